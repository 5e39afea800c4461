"""examples/phusion-style: a Dockerfile written for phusion/baseimage builds and runs unchanged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support.derived import build_from
from support.runit import RunitService, wait_for_log

EXAMPLE = Path(__file__).parents[2] / "examples" / "phusion-style"


@pytest.fixture(scope="module")
def example_image(engine, baseimage, tmp_path_factory):
    """Built as a user would, FROM the image under test (its id: never a tag another session moves)."""
    image_id = build_from(engine, EXAMPLE, baseimage, tmp_path_factory.mktemp("example") / "context")
    yield image_id
    engine.images.remove(image_id, force=True)


def test_example_dockerfile_lints_clean():
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([str(hadolint), "--config", str(EXAMPLE.parents[1] / ".hadolint.yaml"),
                             str(EXAMPLE / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_example_runs_its_service_as_the_user(start, host_of, example_image):
    container = start(example_image, environment={"GREETING": "howdy"})
    output = wait_for_log(container, "howdy from app in /home/app")
    assert "greeting: greeting set to howdy" in output  # a my_init.d script logging via syslog
    host = host_of(container)
    greeter = RunitService(host, "/etc/service/greeter")
    assert greeter.is_running and greeter.command == "sleep"
    assert host.check_output("stat -c %%U /proc/%s", str(greeter.pid)) == "app"
    assert RunitService(host, "/etc/service/cron").is_running


def test_example_stops_cleanly(start, example_image):
    container = start(example_image)
    wait_for_log(container, "from app in /home/app")
    container.stop(timeout=20)
    assert container.wait(timeout=30)["StatusCode"] == 0


def test_install_clean_left_no_lists_in_the_example(containers, example_image):
    listing = containers.run(
        example_image, ["sh", "-c", "ls /var/lib/apt/lists | grep -v -e '^lock$' -e '^partial$' | wc -l"],
        remove=True)
    assert listing == b"0\n"
