"""The session's S3 server (tests/support/s3.py) is a real one: it checks credentials and buckets."""

from __future__ import annotations

import urllib.error
import urllib.request

import boto3
import botocore.exceptions
import pytest


def test_writes_with_the_session_key_and_serves_reads_anonymously(s3_server):
    client = s3_server.client()
    client.put_object(Bucket=s3_server.bucket, Key="probe/hello.txt", Body=b"hello", ContentType="text/plain")
    url = f"{s3_server.endpoint}/{s3_server.bucket}/probe/hello.txt"
    with urllib.request.urlopen(url) as response:
        assert response.read() == b"hello"
    client.delete_object(Bucket=s3_server.bucket, Key="probe/hello.txt")
    with pytest.raises(urllib.error.HTTPError) as gone:
        urllib.request.urlopen(url)
    assert gone.value.code == 404


def test_refuses_a_wrong_secret_and_an_unknown_bucket(s3_server):
    wrong = boto3.client("s3", endpoint_url=s3_server.endpoint, region_name=s3_server.region,
                         aws_access_key_id=s3_server.access_key, aws_secret_access_key="not-the-secret")
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        wrong.put_object(Bucket=s3_server.bucket, Key="x", Body=b"x")
    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        s3_server.client().put_object(Bucket="no-such-bucket", Key="x", Body=b"x")
    assert missing.value.response["Error"]["Code"] == "NoSuchBucket"


def test_anonymous_clients_cannot_write(s3_server):
    request = urllib.request.Request(f"{s3_server.endpoint}/{s3_server.bucket}/anon.txt", data=b"x",
                                     method="PUT")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == 403


def test_a_port_taken_before_weed_binds_it_is_picked_again(tmp_path, monkeypatch):
    """The race of every free-port pick: another process takes the S3 port first (here: this test)."""
    import socket

    from boxwright.bench import servers

    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen()
    taken = held.getsockname()[1]
    picks = iter([taken])
    free = servers._free_port
    monkeypatch.setattr(servers, "_PORTS", ("s3.port", *(p for p in servers._PORTS if p != "s3.port")))
    monkeypatch.setattr(servers, "_free_port", lambda: next(picks, None) or free())
    try:
        with servers.start_s3_server(tmp_path) as server:
            assert server.endpoint != f"http://127.0.0.1:{taken}"
            server.client().head_bucket(Bucket=server.bucket)
        assert "s3.port" in (tmp_path / "weed.log").read_text()  # the first try said which port
    finally:
        held.close()
