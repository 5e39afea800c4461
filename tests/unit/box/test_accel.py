"""Which accelerator a box build and boot uses: the override, the KVM probe."""

from __future__ import annotations

from pathlib import Path

import pytest

from boxwright.box.accel import ACCEL_ENV, Accel, detect_accel, kvm_probe_argv
from boxwright.errors import BoxwrightError


def test_accel_override(monkeypatch):
    monkeypatch.setenv(ACCEL_ENV, "tcg")
    assert detect_accel() == Accel("tcg", f"{ACCEL_ENV}=tcg")
    assert detect_accel().libvirt_driver == "qemu"
    assert detect_accel().libguestfs_env()["LIBGUESTFS_BACKEND_SETTINGS"] == "force_tcg"
    monkeypatch.setenv(ACCEL_ENV, "kvm")
    assert detect_accel().libvirt_driver == "kvm"
    assert "LIBGUESTFS_BACKEND_SETTINGS" not in detect_accel().libguestfs_env()
    monkeypatch.setenv(ACCEL_ENV, "fast")
    with pytest.raises(BoxwrightError, match="expected 'kvm' or 'tcg'"):
        detect_accel()


def test_kvm_probe_boots_a_kernel_under_kvm():
    argv = kvm_probe_argv(Path("/boot/vmlinuz-x"))
    assert argv[argv.index("-accel") + 1] == "kvm"
    assert argv[argv.index("-kernel") + 1] == "/boot/vmlinuz-x"
    assert "-no-reboot" in argv and "panic=-1" in argv[-1]
