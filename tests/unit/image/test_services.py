"""Service options: shorthands, defaults, what each choice puts in the build context."""

from __future__ import annotations

from pathlib import Path

import pytest

from boxwright.errors import DefinitionError
from boxwright.image.build import render_context, render_image
from boxwright.image.definition import load_image
from boxwright.image.services import PREFIX_LOG, SERVICES, Service, service_plan
from support import FIXTURES, ROOT

VARIANTS = FIXTURES / "service-images"
PROJECT_IMAGES = ROOT / "images"


def variant(tmp_path: Path, text: str, name: str = "variant"):
    """A definition extending the real baseimage, written to a scratch images dir."""
    if not (tmp_path / "baseimage").exists():
        (tmp_path / "baseimage").symlink_to(PROJECT_IMAGES / "baseimage")
    (tmp_path / name).mkdir(exist_ok=True)
    (tmp_path / name / "image.toml").write_text('extends = "baseimage"\n' + text)
    return load_image(name, tmp_path)


def links(definition) -> dict[str, str]:
    return {link["path"]: link["target"] for link in service_plan(definition)["links"]}


def test_baseimage_services_and_packages():
    plan = service_plan(load_image("baseimage", PROJECT_IMAGES))
    assert plan["enabled"] == ["syslog", "cron", "logrotate", "sshd"]
    assert plan["packages"] == ["syslog-ng-core", "systemd-standalone-sysusers", "cron", "logrotate",
                                "openssh-server"]
    assert plan["never_ship"] == ["/etc/ssh/ssh_host_*"]
    assert plan["private_dirs"] == ["/root/.ssh"]
    slim = service_plan(load_image("baseimage-slim", PROJECT_IMAGES))
    assert slim["enabled"] == ["syslog", "cron", "logrotate"] and slim["never_ship"] == []


def test_standalone_sysusers_comes_before_cron():
    packages = SERVICES["cron"].packages
    assert packages.index("systemd-standalone-sysusers") < packages.index("cron")


def test_service_packages_follow_the_definitions_own():
    context = render_context(load_image("baseimage-slim", PROJECT_IMAGES))
    assert context["packages"][:2] == ["python3-minimal", "runit"]
    assert context["packages"].index("runit") < context["packages"].index("cron")


def test_turned_off_service_ships_no_package_and_no_file():
    nocron = load_image("baseimage-nocron", VARIANTS)
    plan = service_plan(nocron)
    assert "cron" not in plan["packages"] and "logrotate" not in plan["packages"]
    trees = {tree.name for tree in nocron.rootfs}
    assert "cron" not in trees and "logrotate" not in trees and "syslog" in trees


def test_logrotate_follows_cron():
    nocron = load_image("baseimage-nocron", VARIANTS)
    assert not nocron.service_enabled("cron")
    assert not nocron.service_enabled("logrotate")


def test_shorthand_in_child_keeps_parent_settings(tmp_path):
    image = variant(tmp_path, "[services]\nsyslog = false\n")
    assert not image.service_enabled("syslog")
    assert image.services["syslog"].prefix is False  # from baseimage's table, not reset


def test_prefix_default_and_per_service_override():
    base = load_image("baseimage", PROJECT_IMAGES)
    assert base.service_prefixed("cron") and not base.service_prefixed("syslog")
    assert links(base)["/etc/service/cron/log/run"] == PREFIX_LOG
    assert "/etc/early_service/syslog/log/run" not in links(base)
    nocron = load_image("baseimage-nocron", VARIANTS)
    assert links(nocron)["/etc/early_service/syslog/log/run"] == PREFIX_LOG


def test_prefix_off_image_wide():
    sshd = load_image("baseimage-sshd", VARIANTS)
    assert not any(path.endswith("/log/run") for path in links(sshd))


@pytest.mark.parametrize(
    ("stdout", "file", "expected"),
    [(True, True, {"stdout.conf", "file.conf"}), (False, True, {"file.conf"}),
     (True, False, {"stdout.conf"}), (False, False, set())],
)
def test_syslog_outputs_are_links(tmp_path, stdout, file, expected):
    image = variant(tmp_path, f"[services.syslog]\nstdout = {str(stdout).lower()}\n"
                              f"file = {str(file).lower()}\n")
    conf = {Path(p).name for p in links(image) if p.startswith("/etc/syslog-ng/")}
    assert conf == expected
    # docker logs in conf.d (a replaced Debian-style syslog-ng.conf includes it), the file not
    assert all(links(image)[f"/etc/syslog-ng/{d}/{n}"] for d, n in
               (("conf.d", "stdout.conf"), ("boxwright.d", "file.conf")) if n in expected)
    for name in expected:
        assert (PROJECT_IMAGES / f"baseimage/services/syslog/etc/syslog-ng/boxwright/{name}").is_file()


def test_sshd_host_keys_never_ship():
    plan = service_plan(load_image("baseimage-sshd", VARIANTS))
    assert "openssh-server" in plan["packages"]
    assert "/etc/ssh/ssh_host_*" in plan["never_ship"]


def test_service_turned_on_without_files_is_an_error(tmp_path):
    (tmp_path / "lone").mkdir()
    (tmp_path / "lone" / "image.toml").write_text(
        'version = "1.0.0"\nbootstrap = { suite = "trixie" }\nservices = { sshd = true }\n')
    with pytest.raises(DefinitionError, match=r"services\.sshd: turned on, but no definition ships it"):
        load_image("lone", tmp_path)


def test_every_service_with_a_daemon_has_a_run_file():
    for name, service in SERVICES.items():
        if service.service_dir:
            run = PROJECT_IMAGES / "baseimage/services" / name / service.service_dir.lstrip("/") / "run"
            assert run.is_file() and run.stat().st_mode & 0o111, run


def test_host_keys_are_removed_in_the_install_layer(tmp_path):
    text = (render_image(load_image("baseimage-sshd", VARIANTS), tmp_path / "ctx") / "Dockerfile").read_text()
    install = text[text.index("RUN "):text.index("COPY rootfs/")]
    assert "openssh-server" in install and "rm -rf /etc/ssh/ssh_host_*" in install


def test_option_links_are_made_after_the_files_are_copied(tmp_path):
    context = render_image(load_image("baseimage", PROJECT_IMAGES), tmp_path / "ctx")
    text = (context / "Dockerfile").read_text()
    assert text.index("COPY rootfs/") < text.index(f"ln -sfn {PREFIX_LOG} /etc/service/cron/log/run")


@pytest.fixture
def new_row(monkeypatch, tmp_path):
    """A service that is one folder and one row: nothing else in Python knows it."""
    monkeypatch.setitem(SERVICES, "memcached", Service(
        ("memcached",), "/etc/service/memcached", default=False,
        never_ship=("/etc/memcached.conf",),
    ))
    run = tmp_path / "variant" / "services" / "memcached" / "etc" / "service" / "memcached" / "run"
    run.parent.mkdir(parents=True)
    run.write_text("#!/bin/sh\nexec memcached -u nobody\n")
    run.chmod(0o755)
    return tmp_path


def test_a_new_row_is_a_key_with_the_rows_default(new_row):
    off = variant(new_row, "")
    assert off.services["memcached"].enabled is None
    assert not off.service_enabled("memcached")  # the row's default
    on = variant(new_row, "[services]\nmemcached = true\n")
    assert on.service_enabled("memcached")
    assert on.service_prefixed("memcached")  # baseimage's services.prefix = true


def test_a_new_row_is_parsed_with_its_options(new_row):
    with pytest.raises(DefinitionError, match=r"services\.memcached\.enabld: unknown key"):
        variant(new_row, "[services]\nmemcached = { enabld = true }\n")
    with pytest.raises(DefinitionError, match=r"services\.memcache: .*did you mean 'memcached'"):
        variant(new_row, "[services]\nmemcache = true\n")


def test_a_new_row_reaches_the_render(new_row):
    image = variant(new_row, "[services]\nmemcached = true\n")
    assert image.rootfs[-1] == new_row / "variant" / "services" / "memcached"
    context = render_image(image, new_row / "ctx")
    text = (context / "Dockerfile").read_text()
    assert "      memcached \\" in text
    assert any(line.startswith(" && rm -rf ") and "/etc/memcached.conf" in line for line in text.splitlines())
    assert f"ln -sfn {PREFIX_LOG} /etc/service/memcached/log/run" in text
    assert (context / "rootfs/etc/service/memcached/run").is_file()


def test_default_off_and_follows_come_from_the_rows():
    base = load_image("baseimage", PROJECT_IMAGES)
    for name, row in SERVICES.items():
        expected = base.service_enabled(row.follows) if row.follows else row.default
        if base.services[name].enabled is None:
            assert base.service_enabled(name) == expected, name
