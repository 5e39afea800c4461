"""The image in production's shapes (README.md, "Running it"): a non-root user (``--user`` and
``USER``), a read-only root with tmpfs mounts, a root without capabilities, a full tmpfs.

One container per shape, all started at once by a module fixture from a small image built on
the image under test (a startup script, an unprivileged service, a main command); the tests
that stop them come last in this file.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import docker.errors
import pytest

from support.containers import SESSION, Containers
from support.health import exec_out
from support.runit import logs, wait_for_log
from support.tar import tar_of

STARTUP = """#!/bin/sh
# shapes test: adds a variable phusion's way, a file in the export my_init reads back.
set -eu
echo "startup script ran as uid $(id -u)"
for dir in /etc/container_environment /run/my_init/container_environment \\
    "/tmp/my_init-$(id -u)/container_environment"; do
    if [ -w "$dir" ]; then
        printf 'from the startup script' > "$dir/STARTUP_VAR"
        break
    fi
done
if [ "${FILL_RUN:-0}" = 1 ] && ! cat /dev/zero > /run/fill 2>/dev/null; then
    echo "filled /run"
fi
"""
APP = """#!/bin/sh
# shapes test: an unprivileged service that says what it got.
set -eu
exec 2>&1
echo "app runs as uid $(id -u) with STARTUP_VAR=${STARTUP_VAR:-unset}"
exec sleep 1000
"""
WRITER = """#!/bin/sh
# shapes test: a service that writes outside the tmpfs mounts when WRITE_ELSEWHERE=1.
set -eu
exec 2>&1
if [ "${WRITE_ELSEWHERE:-0}" = 1 ]; then
    echo state > /var/lib/writer-state
fi
exec sleep 1000
"""
MAIN = """#!/bin/sh
# shapes test: the main command says what it got and exits 0 on SIGTERM.
echo "main runs as uid $(id -u) with STARTUP_VAR=${STARTUP_VAR:-unset}"
trap 'exit 0' TERM
while :; do sleep 1 & wait $!; done
"""
DOCKERFILE = """FROM {base}
COPY rootfs/ /
CMD ["/sbin/my_init", "--", "/usr/local/bin/shapes-main"]
"""
SKIPPED = "my_init: WARN: service {} skipped: it needs "
READ_ONLY = {"read_only": True, "tmpfs": {"/run": "", "/tmp": ""}}
NO_CAPS = {"cap_drop": ["ALL"], "security_opt": ["no-new-privileges"]}
#: The variable the startup script adds, as each of the three forms and a login shell read it.
READS = {
    "dir": 'cat "$B/STARTUP_VAR"',
    "sh": '. "$B.sh" && printf %s "$STARTUP_VAR"',
    "json": "python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"STARTUP_VAR\"], end=\"\")'"
            ' "$B.json"',
    "login": 'bash -lc \'printf %s "$STARTUP_VAR"\'',
}


@dataclass
class Shape:
    """One runtime shape: how it runs and what the image must do in it."""

    run: dict[str, Any]
    uid: int
    export: str  # the directory form; .sh and .json beside it
    modes: tuple[str, str]  # stat -c '%a %u:%g' of the directory, then of the .sh and .json
    up: tuple[str, ...]
    skipped: tuple[str, ...]
    user_image: bool = False
    container: Any = field(default=None, repr=False)


SHAPES = {
    "user": Shape({"user": "1000:1000"}, 1000, "/tmp/my_init-1000/container_environment",
                  ("700 1000:1000", "600 1000:1000"), ("app", "writer"), ("syslog", "cron", "sshd")),
    # USER in the image, and a read-only root on top: what a Kubernetes securityContext asks.
    "user_image_read_only": Shape(READ_ONLY, 1000, "/tmp/my_init-1000/container_environment",
                                  ("700 1000:1000", "600 1000:1000"), ("app", "writer"),
                                  ("syslog", "cron", "sshd"), user_image=True),
    "read_only": Shape({**READ_ONLY, "environment": {"WRITE_ELSEWHERE": "1"}}, 0,
                       "/run/my_init/container_environment", ("700 0:0", "640 0:8377"),
                       ("syslog", "cron", "app"), ()),
    "no_caps": Shape(NO_CAPS, 0, "/etc/container_environment", ("700 0:0", "600 0:0"),
                     ("syslog", "app", "writer"), ("cron", "sshd")),
}
FULL_TMPFS = {"read_only": True, "tmpfs": {"/run": "size=1m", "/tmp": ""}, "environment": {"FILL_RUN": "1"}}


def _build(engine: Any, base: str, tag: str, extra: str = "", rootfs: bool = True) -> str:
    files = {"Dockerfile": ((DOCKERFILE.format(base=base) if rootfs else f"FROM {base}\n") + extra, 0o644)}
    if rootfs:
        files |= {
            "rootfs/etc/my_init.d/50_shapes": (STARTUP, 0o755),
            "rootfs/etc/service/app/run": (APP, 0o755),
            "rootfs/etc/service/writer/run": (WRITER, 0o755),
            "rootfs/usr/local/bin/shapes-main": (MAIN, 0o755),
        }
    image, _ = engine.images.build(fileobj=io.BytesIO(tar_of(files)), custom_context=True, tag=tag,
                                   pull=False, rm=True, forcerm=True)
    return str(image.id)


@pytest.fixture(scope="module")
def shape_images(engine: Any, baseimage: str) -> Iterator[dict[str, str]]:
    """The shapes test image, and the same with ``USER 1000:1000``: tagged here, removed after."""
    repository = f"boxwright-test/shapes-{SESSION}"
    tags = [f"{repository}:root", f"{repository}:user"]
    try:
        root = _build(engine, baseimage, tags[0])
        user = _build(engine, root, tags[1], "USER 1000:1000\n", rootfs=False)
        yield {"root": root, "user": user}
    finally:
        for tag in reversed(tags):
            with contextlib.suppress(docker.errors.APIError):
                engine.images.remove(tag)


@pytest.fixture(scope="module")
def shapes(shape_images: dict[str, str], module_containers: Containers) -> dict[str, Shape]:
    """Every shape's container, started together and up to its main command.

    ``shape_images`` first: set up before ``module_containers``, it is torn down after the
    containers are gone, so its tags can be removed."""
    for shape in SHAPES.values():
        image = shape_images["user" if shape.user_image else "root"]
        shape.container = module_containers.run(image, detach=True, **shape.run)
    for shape in SHAPES.values():
        wait_for_log(shape.container, "main runs as uid")
    return SHAPES


@pytest.fixture(scope="module")
def full_tmpfs(shape_images: dict[str, str], module_containers: Containers) -> Any:
    container = module_containers.run(shape_images["root"], detach=True, **FULL_TMPFS)
    wait_for_log(container, "main runs as uid")
    return container


def sh(container: Any, command: str, **env: str) -> tuple[int, str]:
    exports = "".join(f"{k}='{v}'; " for k, v in env.items())
    return exec_out(container, "sh", "-c", exports + command)


@pytest.mark.parametrize("name", SHAPES)
def test_starts_and_runs_its_startup_script(shapes, name):
    shape = shapes[name]
    out = logs(shape.container)
    assert f"startup script ran as uid {shape.uid}" in out, out
    assert "Traceback" not in out and "internal error" not in out, out
    assert sh(shape.container, "id -u") == (0, f"{shape.uid}\n")


@pytest.mark.parametrize("name", SHAPES)
@pytest.mark.parametrize("form", READS)
def test_export_reads_back(shapes, name, form):
    shape = shapes[name]
    assert sh(shape.container, READS[form], B=shape.export) == (0, "from the startup script")


@pytest.mark.parametrize("name", SHAPES)
def test_export_is_private_to_its_user(shapes, name):
    shape = shapes[name]
    code, out = sh(shape.container, 'stat -c "%a %u:%g" "$B" "$B.sh" "$B.json"', B=shape.export)
    assert code == 0 and out.split("\n")[:3] == [shape.modes[0], shape.modes[1], shape.modes[1]], out


@pytest.mark.parametrize("name", SHAPES)
def test_services_and_main_command_get_the_environment(shapes, name):
    uid = shapes[name].uid
    out = wait_for_log(shapes[name].container, "app runs as uid", timeout=30)
    assert f"main runs as uid {uid} with STARTUP_VAR=from the startup script" in out, out
    assert f"app runs as uid {uid} with STARTUP_VAR=from the startup script" in out, out


@pytest.mark.parametrize("name", SHAPES)
def test_services_up_or_skipped_with_one_line(shapes, name, image_definition):
    shape = shapes[name]
    for service in shape.up:
        wait_for_state(shape.container, service, ("up", "ready"))
    rows = status_rows(shape.container)
    out = logs(shape.container)
    # Those of the shape's skipped services that the image under test has (the slim one: no sshd).
    skipped = [service for service in shape.skipped if image_definition.service_enabled(service)]
    for service in skipped:
        assert rows[service][:2] == ["stopped", "pid"] and rows[service][-1] == "0", rows
        assert out.count(SKIPPED.format(service)) == 1, out
    for service in set(rows) - set(skipped):
        assert SKIPPED.format(service) not in out, out


def test_root_exec_into_a_non_root_container_finds_the_services(shapes):
    wait_for_state(shapes["user"].container, "app", ("up",))
    code, out = exec_out(shapes["user"].container, "service-status", user="root")
    rows = dict(line.split()[:2] for line in out.splitlines())
    assert code == 0 and rows["syslog"] == "stopped" and rows["app"] == "up", out


def test_root_login_shell_in_a_non_root_container_reads_the_export(shapes):
    """docker exec -u root ... bash -l: the init's export under /tmp/my_init-1000 is PID 1's own."""
    code, out = exec_out(shapes["user"].container, "bash", "-lc", 'printf %s "$STARTUP_VAR"', user="root")
    assert (code, out) == (0, "from the startup script")


def test_a_login_shell_skips_an_export_of_a_third_user(shapes):
    """/tmp is shared: a /tmp/my_init-0 that another user made is neither root's nor PID 1's."""
    container = shapes["user"].container
    plant = ("mkdir /tmp/my_init-0 && echo 'export PLANTED=yes' > /tmp/my_init-0/container_environment.sh"
             " && chown -R 4242 /tmp/my_init-0")
    assert exec_out(container, "sh", "-c", plant, user="root")[0] == 0
    try:
        code, out = exec_out(container, "bash", "-lc", 'printf "%s %s" "${PLANTED-unset}" "$STARTUP_VAR"',
                             user="root")
    finally:
        exec_out(container, "rm", "-rf", "/tmp/my_init-0", user="root")
    assert (code, out) == (0, "unset from the startup script")


@pytest.mark.parametrize("name", ["user", "no_caps"])
def test_setuser_without_privilege_is_one_line(shapes, name):
    shape = shapes[name]
    code, out = exec_out(shape.container, "setuser", "nobody", "id")
    assert code == 1
    why = f"uid {shape.uid} has no CAP_SETUID/CAP_SETGID here"
    assert out == f"setuser: cannot switch to nobody (uid 65534): {why}\n"


def test_syslog_works_without_capabilities(shapes):
    container = shapes["no_caps"].container
    assert exec_out(container, "logger", "-t", "shapes", "no capabilities needed")[0] == 0
    wait_for_log(container, "shapes: no capabilities needed", timeout=20)


def test_read_only_root_keeps_syslog_and_cron(shapes):
    container = shapes["read_only"].container
    assert exec_out(container, "logger", "-t", "shapes", "read-only root")[0] == 0
    wait_for_log(container, "shapes: read-only root", timeout=20)
    out = wait_for_log(container, "[cron] starting cron", timeout=20)
    # The documented exception: the syslog file needs a writable /var/log.
    assert "Error opening file for writing; filename='/var/log/syslog'" in out


def test_a_service_writing_outside_the_tmpfs_fails_visibly(shapes):
    container = shapes["read_only"].container
    wait_for_log(container, "/var/lib/writer-state: Read-only file system", timeout=20)


def test_a_full_tmpfs_leaves_the_init_running(full_tmpfs):
    out = wait_for_log(full_tmpfs, "my_init: ERROR: cannot write the environment export")
    assert "filled /run" in out
    time.sleep(1)
    full_tmpfs.reload()
    assert full_tmpfs.status == "running"
    assert exec_out(full_tmpfs, "cat", "/proc/1/cmdline")[1].startswith("/usr/bin/python3")


def test_a_read_only_root_without_tmpfs_is_one_line(containers, baseimage):
    container = containers.run(baseimage, detach=True, read_only=True)
    assert container.wait(timeout=60)["StatusCode"] == 1
    assert logs(container) == (
        "my_init: ERROR: no runtime directory it can write: /run/my_init: Read-only file system;"
        " /tmp/my_init-0: Read-only file system\n"
    )


# -- the stops: last, they end the module's containers -------------------------------------------


@pytest.mark.parametrize("name", SHAPES)
def test_docker_stop_exits_0(shapes, name):
    container = shapes[name].container
    container.stop(timeout=30)
    assert container.wait(timeout=60)["StatusCode"] == 0, logs(container)
    assert "my_init: INFO: shutdown done in" in logs(container)


def test_a_full_tmpfs_stops_cleanly(full_tmpfs):
    full_tmpfs.stop(timeout=30)
    assert full_tmpfs.wait(timeout=60)["StatusCode"] == 0, logs(full_tmpfs)
    assert "my_init: INFO: shutdown done in" in logs(full_tmpfs)


def status_rows(container: Any) -> dict[str, list[str]]:
    code, out = exec_out(container, "service-status")
    assert code == 0, out
    return {line.split()[0]: line.split()[1:] for line in out.splitlines()}


def wait_for_state(container: Any, service: str, states: tuple[str, ...], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        rows = status_rows(container)
        if rows.get(service, ["?"])[0] in states:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{service} not {states}: {rows}\n{logs(container)}")
        time.sleep(0.2)
