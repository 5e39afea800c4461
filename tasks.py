"""boxwright's tasks: each parses its arguments and calls one function of the package.

Run them through ./kit (which prepares the venv and the daemons): ./kit --list
"""

from invoke import Collection, Context, task

from boxwright.cli import user_errors


@task(help={"image": "image definition under images/ (default: baseimage)"})
def render(c: Context, image: str = "baseimage") -> None:
    """Render an image's build context (Dockerfile + rootfs) into build/images/<name>/."""
    from boxwright.definitions import load_image
    from boxwright.image import render_image

    with user_errors():
        print(render_image(load_image(image)))


@task(
    name="build-image",
    help={
        "name": "image definition under images/ (default: baseimage)",
        "no-cache": "rebuild every layer (the base is still reused when its inputs match)",
    },
)
def build_image(c: Context, name: str = "baseimage", no_cache: bool = False) -> None:
    """Build boxwright/<name>:<version> and :latest from images/<name>/."""
    from boxwright.image import build_image as build

    with user_errors():
        build(name, no_cache=no_cache)


@task(
    name="build-box",
    help={"name": "box definition under boxes/ (default: docker-host)"},
)
def build_box(c: Context, name: str = "docker-host") -> None:
    """Build the Vagrant box boxes/<name>/ into dist/boxes/ and add it to the box's catalog."""
    from boxwright.box import build_box as build

    with user_errors():
        build(name)


@task(
    help={
        "k": "only run tests matching this pytest expression",
        "m": "only run tests with this pytest marker expression",
        "path": "test file or directory (default: tests/)",
    },
)
def test(c: Context, k: str = "", m: str = "", path: str = "tests") -> None:
    """Run the whole test suite (unit, lint, images, boxes) with pytest."""
    from boxwright.testing import run_pytest

    with user_errors():
        run_pytest(c, path=path, keyword=k, markers=m)


@task(name="test-box", help={"box": "box definition under boxes/ (default: docker-host)"})
def test_box(c: Context, box: str = "docker-host") -> None:
    """Boot the newest built box with Vagrant (vagrant-libvirt), verify it with testinfra, destroy it."""
    from boxwright.testing import run_pytest

    with user_errors():
        run_pytest(c, path="tests/vm", env={"BOXWRIGHT_TEST_BOX": box})


@task(
    help={
        "quick": "one sample per figure and small bursts (what ./kit test runs)",
        "only": "comma-separated groups: init, image, box (default: all)",
    },
)
def bench(c: Context, quick: bool = False, only: str = "") -> None:
    """Measure boxwright against the alternatives; write bench/results/*.json and print a table."""
    from boxwright.bench import run_bench

    with user_errors():
        run_bench(quick=quick, only=only)


ns = Collection(render, build_image, build_box, test, bench)
