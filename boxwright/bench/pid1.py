"""The init group: boxwright's my_init against tini, dumb-init and no init, as PID 1 of one image.

Every variant runs in the same image (the built baseimage plus Debian's tini
and dumb-init), so differences are the init's, not the image's.
"""

from __future__ import annotations

import contextlib
import io
import time

import docker
import docker.errors
import docker.models.containers

from boxwright.bench.containers import BENCH_LABEL, bench_container, exec_ok, wait_until
from boxwright.bench.record import Recorder
from boxwright.engine import docker_client
from boxwright.errors import BenchError

__all__ = ["VARIANTS", "bench_init"]

VARIANT_IMAGE = "boxwright/bench-inits:latest"
STUBBORN_IMAGE = "boxwright/bench-stubborn:latest"

#: How each variant runs a main command as PID 1.
VARIANTS: dict[str, list[str]] = {
    "my_init": ["/sbin/my_init", "--quiet", "--"],
    "tini": ["/usr/bin/tini", "--"],
    "dumb-init": ["/usr/bin/dumb-init"],
    "no init": [],
}
SLEEP = ["sleep", "infinity"]
#: A main command whose processes ignore SIGTERM (ignored dispositions survive exec).
IGNORES_TERM = ["sh", "-c", "trap '' TERM; sleep 1000 & exec sleep 1000"]
SIGNALS = ("TERM", "INT", "HUP", "QUIT", "USR1", "USR2", "KILL")
ORPHAN_SCRIPT = """
import os, sys, time
n = int(sys.argv[1])
start = time.time()
for _ in range(n):
    pid = os.fork()
    if pid == 0:
        if os.fork() == 0:
            os._exit(0)
        os._exit(0)
    os.waitpid(pid, 0)
print(time.time() - start)
"""
COUNT_ZOMBIES = ["sh", "-c", "cat /proc/[0-9]*/stat 2>/dev/null | awk '$3 == \"Z\"' | wc -l"]
STOP_GRACE = 10  # docker stop's default, what users get; --quick uses QUICK_GRACE
QUICK_GRACE = 3
#: Stop containers that have settled: runsv delays a service's stop by up to 1 s while the
#: service is younger than 1 s (its restart guard), which is not what a running container sees.
SETTLE = 2.0
#: Readiness checks that need no procps (the image has none): count `sleep` processes.
SLEEPING = "cat /proc/[0-9]*/comm 2>/dev/null | grep -qx sleep"
BOTH_SLEEPING = '[ "$(cat /proc/[0-9]*/comm 2>/dev/null | grep -cx sleep)" -ge 2 ]'
#: Every service folder (the trailing slash skips /etc/service/README) without a `down` file
#: (sshd ships down) reports "run:".
ALL_SERVICES_UP = ("! for s in /etc/service/*/ /etc/early_service/*/; do"
                   " [ -e \"$s/down\" ] || sv status \"$s\"; done 2>&1 | grep -v '^run:'")


def bench_init(rec: Recorder) -> None:
    """Measure memory, stop time and exit codes, start latency, reaping and signals."""
    client = docker_client()
    _variant_images(client)
    try:
        _memory(rec, client)
        _stop(rec, client)
        _start(rec, client)
        _orphans(rec, client)
        _signals(rec, client)
    finally:
        for container in client.containers.list(all=True, filters={"label": BENCH_LABEL}):
            with contextlib.suppress(docker.errors.DockerException):
                container.remove(force=True)


def _variant_images(client: docker.DockerClient) -> None:
    """The baseimage plus tini and dumb-init; and one with a service that ignores SIGTERM."""
    inits = (
        "FROM boxwright/baseimage:latest\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends tini dumb-init"
        " && rm -rf /var/lib/apt/lists/*\n"
    )
    stubborn = (
        "FROM boxwright/baseimage:latest\n"
        "RUN mkdir -p /etc/service/stubborn && printf '%s\\n' '#!/bin/sh' \"trap '' TERM\""
        " 'sleep 1000 &' 'exec sleep 1000' > /etc/service/stubborn/run"
        " && chmod 755 /etc/service/stubborn/run\n"
    )
    for tag, dockerfile in ((VARIANT_IMAGE, inits), (STUBBORN_IMAGE, stubborn)):
        try:
            client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, forcerm=True)
        except docker.errors.BuildError as error:
            raise BenchError(f"could not build {tag}: {error.msg}") from None


def _memory(rec: Recorder, client: docker.DockerClient) -> None:
    variants = {**{k: v + SLEEP for k, v in VARIANTS.items()},
                "python3 (bare)": ["python3", "-c", "import time; time.sleep(1e9)"]}
    for variant, command in variants.items():
        rss, pss = [], []
        for _ in range(rec.repeat):
            with bench_container(client, command, image=VARIANT_IMAGE) as container:
                wait_until(container, "[ -e /proc/1/smaps_rollup ]")
                time.sleep(1.0)
                fields = _smaps_rollup(exec_ok(container, ["cat", "/proc/1/smaps_rollup"]))
                rss.append(fields["Rss"] / 1024)
                pss.append(fields["Pss"] / 1024)
        rec.add("init", "PID-1 RSS (with a main command)", variant, "MB", rss)
        rec.add("init", "PID-1 PSS (with a main command)", variant, "MB", pss)


def _smaps_rollup(text: str) -> dict[str, int]:
    fields = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
            fields[parts[0][:-1]] = int(parts[1])
    return fields


def _stop_once(client: docker.DockerClient, command: list[str] | None, ready: str,
               image: str = VARIANT_IMAGE, grace: int = STOP_GRACE) -> tuple[float, int]:
    with bench_container(client, command, image=image) as container:
        wait_until(container, ready)
        time.sleep(SETTLE)
        started = time.monotonic()
        container.stop(timeout=grace)
        seconds = time.monotonic() - started
        code = container.wait(timeout=30)["StatusCode"]
    return seconds, code


def _stop(rec: Recorder, client: docker.DockerClient) -> None:
    slow_n = min(rec.repeat, 3)  # a variant that ignores TERM costs 10 s a sample
    grace = QUICK_GRACE if rec.quick else STOP_GRACE
    cases = [
        ("docker stop, idle main command", SLEEP, SLEEPING),
        ("docker stop, main command ignores TERM", IGNORES_TERM, BOTH_SLEEPING),
    ]
    for figure, main, ready in cases:
        for variant, init in VARIANTS.items():
            n = slow_n if variant == "no init" or main is IGNORES_TERM else rec.repeat
            results = [_stop_once(client, init + main, ready, grace=grace) for _ in range(n)]
            rec.add("init", f"{figure}: time", variant, "s", [r[0] for r in results],
                    note=f"{SETTLE:.0f} s after start")
            rec.add("init", f"{figure}: exit code", variant, "code", [r[1] for r in results])
    for figure, image in (("docker stop, stock image with its services", "boxwright/baseimage:latest"),
                          ("docker stop, a service ignores TERM", STUBBORN_IMAGE)):
        results = [_stop_once(client, None, ALL_SERVICES_UP, image=image) for _ in range(rec.repeat)]
        rec.add("init", f"{figure}: time", "my_init", "s", [r[0] for r in results],
                note=f"{SETTLE:.0f} s after start" + (", budget 5 s" if image == STUBBORN_IMAGE else ""))
        rec.add("init", f"{figure}: exit code", "my_init", "code", [r[1] for r in results])
    rec.facts["docker stop grace"] = f"{grace} s"


def _start(rec: Recorder, client: docker.DockerClient) -> None:
    stamp = ["sh", "-c", "date +%s.%N > /tmp/started; exec sleep infinity"]
    for variant, init in VARIANTS.items():
        samples = []
        for _ in range(rec.repeat):
            t0 = time.time()
            with bench_container(client, init + stamp, image=VARIANT_IMAGE) as container:
                wait_until(container, "[ -s /tmp/started ]")
                samples.append(float(exec_ok(container, ["cat", "/tmp/started"])) - t0)
        rec.add("init", "start → main command running", variant, "s", samples)
    samples = []
    for _ in range(rec.repeat):
        t0 = time.time()
        with bench_container(client, None, image="boxwright/baseimage:latest") as container:
            wait_until(container, ALL_SERVICES_UP)
            samples.append(time.time() - t0)
    rec.add("init", "start → all services up", "my_init", "s", samples, note="polled every 50 ms")


def _orphans(rec: Recorder, client: docker.DockerClient) -> None:
    count = 1000 if rec.quick else 10_000
    for variant, init in VARIANTS.items():
        with bench_container(client, init + SLEEP, image=VARIANT_IMAGE) as container:
            wait_until(container, SLEEPING)
            burst = float(exec_ok(container, ["python3", "-c", ORPHAN_SCRIPT, str(count)]))
            after = time.monotonic()
            zombies: dict[str, int] = {}
            cleared = None
            while time.monotonic() - after < 10:
                left = int(exec_ok(container, COUNT_ZOMBIES))
                elapsed = time.monotonic() - after
                if left == 0 and cleared is None:
                    cleared = elapsed
                if elapsed >= 1 and "1s" not in zombies:
                    zombies["1s"] = left
                if elapsed >= 5:
                    zombies["5s"] = left
                    break
                if cleared is not None and "1s" in zombies:
                    zombies["5s"] = 0
                    break
                time.sleep(0.1)
        note = f"{count} orphans, burst took {burst:.1f} s"
        rec.add("init", "zombies left 1 s after the burst", variant, "procs", [zombies.get("1s", -1)], note)
        rec.add("init", "zombies left 5 s after the burst", variant, "procs", [zombies.get("5s", -1)], note)
        rec.add("init", "time until no zombie", variant, "s", [cleared] if cleared is not None else [],
                note="" if cleared is not None else "never (within 10 s)")


def _signals(rec: Recorder, client: docker.DockerClient) -> None:
    for signal in SIGNALS:
        for variant, init in VARIANTS.items():
            with bench_container(client, init + SLEEP, image=VARIANT_IMAGE) as container:
                wait_until(container, SLEEPING)
                container.kill(signal=f"SIG{signal}")
                try:
                    code = container.wait(timeout=8)["StatusCode"]
                    rec.add("init", f"exit code after docker kill -s {signal}", variant, "code", [code])
                except Exception:  # still running: the init ignored the signal
                    rec.add("init", f"exit code after docker kill -s {signal}", variant, "code", [],
                            note="ignored (still running)")
