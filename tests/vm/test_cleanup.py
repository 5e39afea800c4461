"""Cleanup holds even when Vagrant can't destroy: the domains go through libvirt directly."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from boxwright.box.boot import BootedBox, _clean_up, _virsh, work_dir
from boxwright.box.vagrant import Vagrant


def test_domains_are_removed_when_vagrant_destroy_fails():
    work_dir().mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="vms-", dir=work_dir()))
    (root / "domain.xml").write_text(
        f"<domain type='qemu'><name>{root.name}_one</name><memory unit='MiB'>64</memory>"
        "<os><type arch='x86_64'>hvm</type></os></domain>"
    )
    subprocess.run(["virsh", "-c", "qemu:///system", "define", str(root / "domain.xml")],
                   check=True, capture_output=True)
    # No Vagrantfile in root: `vagrant destroy` fails, as it does for a half-created machine.
    _clean_up(BootedBox("boxwright/none", "0.0.0", "qemu", root, Vagrant(root)))
    assert f"{root.name}_one" not in _virsh("list", "--all", "--name").split()
    assert not root.exists()
