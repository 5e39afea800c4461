"""The container environment: import from and export to /etc/container_environment{,.sh,.json}."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

SKIP = "--skip-runit"
PER_USER = ["HOME", "USER", "LOGNAME", "GROUP", "UID", "GID", "SHELL"]  # login, su, setuser and cron set them


def shell_name(name: str) -> bool:
    return name.isascii() and (name[0].isalpha() or name[0] == "_") and name.replace("_", "a").isalnum()


names = st.text(st.characters(codec="utf-8", exclude_characters="=/\0"), min_size=1, max_size=12).filter(
    lambda n: not n.startswith(".") and n not in PER_USER
)
shell_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,11}", fullmatch=True).filter(
    lambda n: n not in PER_USER
)
text_values = st.text(st.characters(codec="utf-8", exclude_characters="\0"), max_size=40)
byte_values = st.binary(max_size=40).filter(lambda b: b"\0" not in b)
values = st.one_of(text_values.map(os.fsencode), byte_values)
environments = st.dictionaries(st.one_of(names, shell_names).map(os.fsencode), values, min_size=1, max_size=4)


def source_back(sh_file: Path, names: list[bytes]) -> list[bytes]:
    """Source the .sh in a clean POSIX shell and print each variable, NUL-terminated."""
    if not names:
        return []
    prints = " ".join(f'"${{{os.fsdecode(n)}-<unset>}}"' for n in names)
    script = f'. "$1" && printf "%s\\0" {prints}'
    out = subprocess.run(["sh", "-c", script, "sh", str(sh_file)], env={}, capture_output=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.split(b"\0")[:-1]


@settings(max_examples=1000, deadline=None)
@given(environ=environments)
def test_export_round_trips_exactly(my_init, environ):
    with tempfile.TemporaryDirectory() as tmp:
        paths = my_init.Paths(tmp)
        os.makedirs(f"{tmp}/etc")
        not_shell = my_init.export_environment(environ, paths)

        # The directory: one file per variable, the raw bytes.
        assert my_init.read_env_dir(paths.env_dir) == environ
        # The JSON: every variable; undecodable bytes come back through surrogateescape.
        with open(paths.env_json, "rb") as f:
            document = json.loads(f.read().decode("utf-8"))
        assert {os.fsencode(k): os.fsencode(v) for k, v in document.items()} == environ
        # The .sh: a POSIX shell reads back the exact bytes of every valid name.
        valid = sorted(n for n in environ if shell_name(os.fsdecode(n)))
        assert source_back(Path(paths.env_sh), valid) == [environ[n] for n in valid]
        assert sorted(not_shell) == sorted(set(environ) - set(valid))


def test_files_modes_and_owners(sandbox):
    result = sandbox.run(SKIP, "--", "true", env={"GREETING": "hi"})
    assert result.returncode == 0, result.stderr
    directory = sandbox.path("/etc/container_environment").stat()
    assert stat.S_IMODE(directory.st_mode) == 0o700
    assert (directory.st_uid, directory.st_gid) == (0, 0)
    for name in ("container_environment.sh", "container_environment.json"):
        info = sandbox.path(f"/etc/{name}").stat()
        assert stat.S_IMODE(info.st_mode) == 0o640
        assert (info.st_uid, info.st_gid) == (0, 8377)
    assert sandbox.path("/etc/container_environment/GREETING").read_text() == "hi"


def test_per_user_variables_are_in_none_of_the_three_forms(sandbox):
    env = dict.fromkeys(PER_USER, "x") | {"KEPT": "1"}
    result = sandbox.run(SKIP, "--", "true", env=env)
    assert result.returncode == 0, result.stderr
    stored = os.listdir(sandbox.path("/etc/container_environment"))
    document = json.loads(sandbox.path("/etc/container_environment.json").read_text())
    sh = sandbox.path("/etc/container_environment.sh").read_text()
    assert "KEPT" in stored and "KEPT" in document and "export KEPT=" in sh
    for name in PER_USER:
        assert name not in stored
        assert name not in document
        assert f"export {name}=" not in sh


def test_invalid_shell_names_warn_once_and_skip_the_sh(sandbox):
    result = sandbox.run(SKIP, "--", "true", env={"BAD-NAME": "1", "9LIVES": "2"})
    assert result.returncode == 0, result.stderr
    [warning] = result.messages("WARN")
    assert "'9LIVES', 'BAD-NAME'" in warning
    assert "BAD-NAME" not in sandbox.path("/etc/container_environment.sh").read_text()
    assert sandbox.path("/etc/container_environment/BAD-NAME").read_text() == "1"
    assert json.loads(sandbox.path("/etc/container_environment.json").read_text())["9LIVES"] == "2"


def test_container_environment_wins_over_the_directory(sandbox):
    sandbox.write("/etc/container_environment/FROM_BOTH", "directory", 0o600)
    sandbox.write("/etc/container_environment/FROM_DIR", "directory", 0o600)
    main = 'printf "%s %s" "$FROM_BOTH" "$FROM_DIR" > "$OUT/seen"'
    result = sandbox.run(SKIP, "--", "sh", "-c", main, env={"FROM_BOTH": "container"})
    assert result.returncode == 0, result.stderr
    assert sandbox.read("seen") == "container directory"


def test_startup_script_sets_and_unsets_variables_for_what_follows(sandbox):
    sandbox.write("/etc/container_environment/DOOMED", "here", 0o600)
    sandbox.script(
        "/etc/my_init.d/10_set",
        'printf "two words\\n" > "$MY_INIT_ROOT/etc/container_environment/GREETING"\n'
        'rm "$MY_INIT_ROOT/etc/container_environment/DOOMED"',
    )
    sandbox.script("/etc/my_init.d/20_read", 'printf "%s" "$GREETING" > "$OUT/script-saw"')
    main = 'printf "%s|%s" "$GREETING" "${DOOMED-unset}" > "$OUT/main-saw"'
    result = sandbox.run(SKIP, "--", "sh", "-c", main)
    assert result.returncode == 0, result.stderr
    assert sandbox.read("script-saw") == "two words"  # one trailing newline dropped, as on phusion
    assert sandbox.read("main-saw") == "two words|unset"
    assert "DOOMED" not in sandbox.path("/etc/container_environment.sh").read_text()


def test_a_file_loses_one_trailing_newline_unless_my_init_wrote_it(sandbox):
    sandbox.write("/etc/container_environment/ECHOED", "echoed\n", 0o600)  # RUN echo echoed > ...
    sandbox.write("/etc/container_environment/TWO", "two\n\n", 0o600)
    sandbox.script("/etc/my_init.d/10_noop", "true")  # a re-import after a script
    main = 'printf "%s|%s|%s" "$ECHOED" "$TWO" "$KEPT" > "$OUT/seen"'
    result = sandbox.run(SKIP, "--", "sh", "-c", main, env={"KEPT": "value\n"})
    assert result.returncode == 0, result.stderr
    assert sandbox.read("seen") == "echoed|two\n|value\n"  # KEPT came from the container: exact
    assert sandbox.path("/etc/container_environment/ECHOED").read_text() == "echoed"


def test_login_shell_snippet_sources_the_export(sandbox):
    snippet = Path(__file__).parents[2] / "images/baseimage/rootfs/etc/profile.d/container_environment.sh"
    result = sandbox.run(SKIP, "--", "true", env={"GREETING": "it's $HOME \\o/"})
    assert result.returncode == 0, result.stderr
    text = snippet.read_text().replace("/etc/", f"{sandbox.root}/etc/")
    out = subprocess.run(["sh", "-c", text + '\nprintf "%s" "$GREETING"'], env={}, capture_output=True)
    assert out.stdout == b"it's $HOME \\o/"
