"""setuser, install_clean, silence-unless-failed: phusion's tools, each with --help."""

from __future__ import annotations

import pytest

TOOLS = ["setuser", "install_clean", "silence-unless-failed"]


@pytest.fixture(scope="module")
def host(module_containers, baseimage):
    import testinfra

    container = module_containers.run(baseimage, ["sleep", "infinity"], detach=True)
    host = testinfra.get_host(f"docker://{container.id}")
    host.run_expect([0], "useradd --create-home --shell /bin/bash --groups adm,docker_env app")
    return host


@pytest.mark.parametrize("tool", TOOLS)
def test_tool_is_on_path_with_help(host, tool):
    assert host.check_output("command -v %s", tool) == f"/usr/local/bin/{tool}"
    if tool in ("setuser", "install_clean"):  # phusion's path, which run scripts call by name
        assert host.check_output("/sbin/%s --help", tool).startswith(f"usage: {tool}")
    help_text = host.check_output("%s --help", tool)
    assert help_text.startswith(f"usage: {tool}")


def test_setuser_sets_ids_groups_and_passwd_environment(host):
    uid, gid = host.user("app").uid, host.user("app").gid
    out = host.check_output("HOME=/root USER=root setuser app sh -c %s",
                            'echo "$(id -u) $(id -g) $(id -G) $HOME $USER $LOGNAME $SHELL"')
    real_uid, real_gid, *groups, home, user, logname, shell = out.split()
    assert (int(real_uid), int(real_gid)) == (uid, gid)
    assert {int(g) for g in groups} == {gid, host.group("adm").gid, host.group("docker_env").gid}
    assert (home, user, logname, shell) == ("/home/app", "app", "app", "/bin/bash")


def test_setuser_numeric_user(host):
    assert host.check_output("setuser %s id -un", str(host.user("app").uid)) == "app"


def test_setuser_unknown_user(host):
    result = host.run("setuser nosuchuser true")
    assert result.rc == 1
    assert result.stderr.strip() == "setuser: unknown user: nosuchuser"


def test_setuser_unknown_command(host):
    result = host.run("setuser app no-such-command")
    assert result.rc == 127
    assert result.stderr.strip() == "setuser: command not found: no-such-command"


def test_setuser_passes_arguments_and_exit_code(host):
    result = host.run("setuser app sh -c 'echo \"$1\"; exit 7' sh 'a b'")
    assert (result.rc, result.stdout) == (7, "a b\n")


def test_silence_unless_failed_quiet_on_success(host):
    result = host.run("silence-unless-failed sh -c 'echo out; echo err >&2'")
    assert (result.rc, result.stdout, result.stderr) == (0, "", "")


def test_silence_unless_failed_prints_everything_on_failure(host):
    result = host.run("silence-unless-failed sh -c 'echo out; echo err >&2; exit 3'")
    assert (result.rc, result.stdout) == (3, "out\nerr\n")


def test_silence_unless_failed_missing_command(host):
    result = host.run("silence-unless-failed no-such-command")
    assert result.rc == 127
    assert "not found" in result.stdout


def test_install_clean_installs_and_leaves_no_lists(host):
    host.run_expect([0], "install_clean hello")
    assert host.package("hello").is_installed
    assert host.check_output("ls /var/lib/apt/lists | grep -v -e '^lock$' -e '^partial$' | wc -l") == "0"
    assert host.check_output("find /var/cache/apt -name '*.deb' | wc -l") == "0"


def test_install_clean_fails_loudly_and_still_cleans(host):
    result = host.run("install_clean no-such-package-boxwright")
    assert result.rc != 0
    assert "install_clean: FAILED" in result.stderr
    assert host.check_output("ls /var/lib/apt/lists | grep -v -e '^lock$' -e '^partial$' | wc -l") == "0"


def test_install_clean_without_packages(host):
    result = host.run("install_clean")
    assert result.rc == 1 and "no package given" in result.stderr
