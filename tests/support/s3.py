"""The session's S3 server: SeaweedFS ``weed mini`` on 127.0.0.1 (boxwright/bench/servers.py).

Use: ``s3_server`` (session fixture) -> :class:`S3Server` with ``endpoint``, ``bucket``,
``access_key``, ``secret_key``; ``s3_server.env()`` is the AWS environment a client needs;
``s3_server.client()`` a boto3 client.  The server and its data are removed when the session ends.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from boxwright.bench.servers import S3Server, start_s3_server

__all__ = ["S3Server", "s3_server"]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One SeaweedFS S3 server for the whole session, removed with its data afterwards."""
    root = Path(tempfile.mkdtemp(prefix="boxwright-s3-"))
    try:
        with start_s3_server(root) as server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)
