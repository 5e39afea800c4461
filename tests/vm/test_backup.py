"""The docker-host box's backup, through its own systemd unit, to the host's S3 server.

The VM reaches the session's SeaweedFS (tests/support/s3.py) at its own 127.0.0.1 through an SSH
reverse tunnel: no other address is ever a target. The box's profile backs up the whole disk;
under QEMU TCG that takes long, so the test backs up one directory with a second profile made
from the box's own (``BACKUP_PROFILE``, README.md, backups) and keeps everything else as shipped:
the tool, the unit the timer starts, the secrets in /etc/boxwright/backup.env, which reach the VM
on ssh's standard input (never a command line).
"""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from support.vm import boxes_where

#: The boxes with a [backup] section (docker-host-arm64 has none: README.md, architectures).
pytestmark = pytest.mark.parametrize("box_definition", boxes_where(lambda box: box.backup is not None),
                                     indirect=True)

MACHINE = "one"
#: The tunnel's end in the VM (its own loopback).
VM_PORT = 19000
DATA = "/srv/backup-test"


@pytest.fixture(scope="module")
def endpoint(vms: Any, host: Any, s3_server: Any) -> Iterator[str]:
    """``ssh -R`` from the VM's 127.0.0.1:VM_PORT to the S3 server; closed after the module."""
    s3_port = s3_server.endpoint.rsplit(":", 1)[1]
    argv = ["ssh", "-F", str(vms.ssh_configs[MACHINE]), "-N", "-o", "ExitOnForwardFailure=yes",
            "-o", "ServerAliveInterval=10", "-R", f"127.0.0.1:{VM_PORT}:127.0.0.1:{s3_port}", MACHINE]
    tunnel = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while host.run(f"exec 3<>/dev/tcp/127.0.0.1/{VM_PORT}").rc != 0:
            assert tunnel.poll() is None, tunnel.stderr.read().decode() if tunnel.stderr else ""
            assert time.monotonic() < deadline, "the tunnel did not open in 60 s"
            time.sleep(0.5)
        yield f"http://127.0.0.1:{VM_PORT}"
    finally:
        tunnel.terminate()
        tunnel.wait(timeout=20)


def _as_root_from_stdin(vms: Any, command: str, text: str) -> None:
    done = subprocess.run(vms.ssh_argv(MACHINE, "sudo sh -c " + _quote(command)), input=text.encode(),
                          capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()


def _quote(command: str) -> str:
    return "'" + command.replace("'", "'\\''") + "'"


def manifest(host: Any, root: str) -> str:
    """Each entry under ``root``: path, type, mode, owner, link target; then each file's sha256."""
    entries = host.check_output(f"sudo find {root} -mindepth 1 -printf '%P|%y|%m|%u:%g|%l\\n' | sort")
    sums = host.check_output(f"cd {root} && sudo find . -type f -exec sha256sum {{}} + | sort -k2")
    return f"{entries}\n{sums}"


@pytest.fixture(scope="module")
def backed_up(vms: Any, host: Any, s3_server: Any, endpoint: str) -> dict[str, str]:
    """Data in DATA, a profile for it, the secrets, and one run of boxwright-backup.service."""
    bucket = "vm-" + secrets.token_hex(4)
    s3_server.client().create_bucket(Bucket=bucket)
    host.check_output(
        f"sudo sh -c 'set -e; mkdir -p {DATA}/docs; head -c 2000000 /dev/urandom > {DATA}/blob;"
        f" echo first > {DATA}/docs/a.txt; ln -s docs/a.txt {DATA}/latest;"
        f" chown vagrant:vagrant {DATA}/docs/a.txt; chmod 0640 {DATA}/docs/a.txt; chmod 0700 {DATA}/docs;"
        f" cp -a /etc/duply/main /etc/duply/vmtest;"
        f" printf \"%s\\n\" \"+ {DATA}\" \"- **\" > /etc/duply/vmtest/exclude'")
    passphrase = "pass " + secrets.token_urlsafe(24)
    settings = {
        "BACKUP_TARGET": f"s3://{bucket}/vm", "BACKUP_S3_ENDPOINT": endpoint, "BACKUP_PROFILE": "vmtest",
        "AWS_ACCESS_KEY_ID": s3_server.access_key, "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
        "BACKUP_PASSPHRASE": passphrase,
    }
    _as_root_from_stdin(vms, "umask 077 && cat > /etc/boxwright/backup.env.new"
                             " && mv /etc/boxwright/backup.env.new /etc/boxwright/backup.env",
                        "".join(f"{k}={v}\n" for k, v in settings.items()))
    run = host.run("sudo systemctl start boxwright-backup.service")
    assert run.rc == 0, host.run("sudo journalctl -u boxwright-backup.service --no-pager | tail -40").stdout
    return {"bucket": bucket, "manifest": manifest(host, DATA), "passphrase": passphrase,
            "secret_key": s3_server.secret_key}


def test_the_unit_ran_once_and_succeeded(host: Any, backed_up: dict[str, str]) -> None:
    shown = host.check_output("systemctl show -p Result -p ExecMainStatus boxwright-backup.service")
    assert shown.splitlines() == ["Result=success", "ExecMainStatus=0"], shown
    assert host.file("/etc/boxwright/backup.env").mode == 0o600


def test_the_bucket_holds_encrypted_sets(s3_server: Any, backed_up: dict[str, str]) -> None:
    client = s3_server.client()
    keys = [item["Key"] for item in client.list_objects_v2(Bucket=backed_up["bucket"])["Contents"]]
    assert any(".vol1.difftar.gpg" in key for key in keys), keys
    # One full set: its volumes, its manifest and its signatures (duplicity-full-signatures.*).
    assert all(key.startswith("vm/duplicity-full") and key.endswith(".gpg") for key in keys), keys


def test_restore_of_the_directory_is_identical(host: Any, backed_up: dict[str, str]) -> None:
    host.check_output("sudo rm -rf /var/tmp/restored && sudo backup restore /var/tmp/restored")
    assert manifest(host, f"/var/tmp/restored{DATA}") == backed_up["manifest"]
    assert host.run("sudo test -e /var/tmp/restored/etc").rc != 0  # only the directory


def test_the_secrets_stay_out_of_the_journal(host: Any, backed_up: dict[str, str]) -> None:
    journal = host.check_output("sudo journalctl -u boxwright-backup.service --no-pager")
    assert "Start running command BKP" in journal
    for name in ("passphrase", "secret_key"):
        assert backed_up[name] not in journal, name
