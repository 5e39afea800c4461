"""boxwright's tasks: each parses its arguments and calls one function of the package.

Run them through ./kit (which prepares the venv and the daemons): ./kit --list
"""

from invoke import Collection, Context, task

from boxwright.cli import is_dry_context, user_errors


@task(help={"image": "image definition under images/ (default: baseimage)"})
def render(c: Context, image: str = "baseimage") -> None:
    """Render an image's build context (Dockerfile + rootfs) into build/images/<name>/."""
    from boxwright.image.build import render_image
    from boxwright.image.definition import load_image

    with user_errors(c):
        print(render_image(load_image(image)))


@task(
    name="build-image",
    help={
        "name": "image definition under images/ (default: baseimage)",
        "no-cache": "rebuild every layer (the base is still reused when its inputs match)",
        "platform": "only this platform, e.g. linux/arm64 (default: every one in the definition's platforms)",
    },
)
def build_image(c: Context, name: str = "baseimage", no_cache: bool = False, platform: str = "") -> None:
    """Build boxwright/<name>:<version>-<arch> per platform; <version> and :latest are the host's."""
    from boxwright.image.build import build_all

    with user_errors(c):
        build_all(name, platforms=[platform] if platform else None, no_cache=no_cache)


@task(
    name="build-box",
    help={
        "name": "box definition under boxes/ (default: every one: docker-host, docker-host-arm64)",
        "no-cache": "rebuild every stage (default: reuse stages, and versions, whose inputs are unchanged)",
    },
)
def build_box(c: Context, name: str = "", no_cache: bool = False) -> None:
    """Build the Vagrant boxes boxes/<name>/ into dist/boxes/ and add each to its catalog."""
    from boxwright.box.build import build_boxes

    with user_errors(c):
        build_boxes(name or None, no_cache=no_cache)


@task(
    name="publish-box",
    help={
        "to": "s3://BUCKET[/PREFIX] or a directory a web server serves",
        "box": "box definition under boxes/ (default: docker-host)",
        "base-url": "public URL of --to (needed for a directory; default for S3: ENDPOINT/BUCKET/PREFIX)",
        "endpoint": "S3 endpoint URL for S3-compatible servers (default: AWS)",
        "profile": "AWS profile for the credentials (default: AWS_* variables, AWS_PROFILE)",
    },
)
def publish_box(c: Context, to: str, box: str = "docker-host", base_url: str = "", endpoint: str = "",
                profile: str = "") -> None:
    """Upload the box's .box files, then its catalog, to S3 or a web server's directory."""
    from boxwright.box.publish import publish_box as publish

    with user_errors(c):
        result = publish(box, to, base_url=base_url, endpoint=endpoint, profile=profile,
                         dry=is_dry_context(c))
        if not is_dry_context(c):
            print(f"{len(result.uploaded)} box file(s) uploaded, {len(result.already)} already there "
                  f"({result.bytes_uploaded / 1e6:.0f} MB in {result.seconds:.1f} s)")
        provider = f"--provider {result.providers[0]} " if len(result.providers) > 1 else ""
        print(f"vagrant box add {provider}{result.catalog_url}")


@task(
    name="prune-boxes",
    iterable=["published"],
    help={
        "box": "box definition under boxes/ (default: docker-host)",
        "keep": "how many of the newest versions to keep (default: 1)",
        "published": "a published catalog (http(s)://, s3://, path) whose versions are kept; repeatable",
        "endpoint": "S3 endpoint for an s3:// --published catalog",
        "profile": "AWS profile for an s3:// --published catalog",
    },
)
def prune_boxes(c: Context, box: str = "docker-host", keep: int = 1, published: list[str] | None = None,
                endpoint: str = "", profile: str = "") -> None:
    """Remove old versions of a box from dist/, build/ and its local catalog (never the newest)."""
    from boxwright.box.prune import prune_boxes as prune

    with user_errors(c):
        result = prune(box, keep=keep, published=published or [], endpoint=endpoint, profile=profile,
                       dry=is_dry_context(c))
        verb = "would remove" if is_dry_context(c) else "removed"
        print(f"{verb} {len(result.removed)} version(s) {' '.join(result.removed)} and "
              f"{len(result.stage_files)} stage file(s), {result.freed_bytes / 1e6:.0f} MB; kept "
              f"{' '.join(result.kept + result.protected) or 'none'}"
              f"{' (published: ' + ' '.join(result.protected) + ')' if result.protected else ''}")


@task(
    help={
        "k": "only run tests matching this pytest expression",
        "m": "only run tests with this pytest marker expression, e.g. 'not arm64' (default: all)",
        "path": "test file or directory (default: tests/)",
    },
)
def test(c: Context, k: str = "", m: str = "", path: str = "tests") -> None:
    """Run the test suite (unit, lint, images, boxes, both architectures); `-m "not arm64"` skips the
    emulated arm64 checks."""
    from boxwright.pipeline.testrun import run_pytest

    with user_errors(c):
        run_pytest(c, path=path, keyword=k, markers=m)


@task(name="test-box", help={"box": "box definition under boxes/ (default: every one)"})
def test_box(c: Context, box: str = "") -> None:
    """Boot the newest built boxes with Vagrant (vagrant-libvirt), check them with testinfra, destroy them."""
    from boxwright.pipeline.testrun import run_pytest

    with user_errors(c):
        run_pytest(c, path="tests/vm", env={"BOXWRIGHT_TEST_BOX": box} if box else None)


@task(
    help={
        "quick": "one sample per figure and small bursts (what ./kit test runs)",
        "only": "comma-separated groups: init, image, arch, box, swarm, backup (default: all)",
    },
)
def bench(c: Context, quick: bool = False, only: str = "") -> None:
    """Measure boxwright against the alternatives; write bench/results/*.json and print a table."""
    from boxwright.bench import run_bench

    with user_errors(c):
        run_bench(quick=quick, only=only)


@task(
    help={
        "registry": "registry to push to, HOST:PORT (e.g. 127.0.0.1:5000)",
        "image": "image definition under images/ (default: baseimage)",
        "insecure": "the registry speaks plain HTTP (dockerd must list it in insecure-registries)",
        "latest": "also move the 'latest' tag (default; --no-latest leaves it alone)",
    },
)
def publish(c: Context, registry: str, image: str = "baseimage", insecure: bool = False,
            latest: bool = True) -> None:
    """Push boxwright/<image> to <registry>/boxwright/<image> as <version>-<rev>, <version>, latest."""
    from boxwright.pipeline.publish import publish_definition

    with user_errors(c):
        publish_definition(image, registry, insecure=insecure, latest=latest)


@task(
    help={
        "image": "image definition under images/ (default: baseimage)",
        "all": "every definition under images/; keeps going and lists the failures at the end",
        "registry": "publish to HOST:PORT when every image test passed (default: build and test only)",
        "insecure": "the registry speaks plain HTTP (dockerd must list it in insecure-registries)",
        "latest": "also move the 'latest' tag (default; --no-latest leaves it alone)",
        "tests": "comma-separated test paths to take the image tests from (default: tests)",
        "k": "only run the image tests matching this pytest expression",
    },
)
def ci(c: Context, image: str = "", all: bool = False, registry: str = "", insecure: bool = False,
       latest: bool = True, tests: str = "tests", k: str = "") -> None:
    """Build -> image tests -> publish (only if every test passed); reports in build/ci/."""
    from boxwright.pipeline.ci import run_ci

    with user_errors(c):
        names = None if all else [image or "baseimage"]
        run_ci(names, registry=registry or None, insecure=insecure, latest=latest,
               tests=tests.split(","), keyword=k)


@task(
    help={
        "port": "port to listen on, on 127.0.0.1 (default: 5000)",
        "root": "directory for its config and storage (default: build/registry)",
    },
)
def registry(c: Context, port: int = 5000, root: str = "") -> None:
    """Run a local docker-registry on 127.0.0.1:<port> until Ctrl-C (a target for --registry)."""
    from boxwright.pipeline.registry import serve

    with user_errors(c):
        serve(port, root)


ns = Collection(render, build_image, build_box, publish_box, prune_boxes, test, test_box, bench, publish, ci,
                registry)
