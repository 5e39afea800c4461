"""Choose how VMs run here: KVM when it can boot Linux, QEMU's TCG emulator otherwise.

``/dev/kvm`` existing is not enough: nested KVM on some hosts accepts a guest and
then hangs in early boot (or QEMU aborts setting an MSR).  So the only honest test
is to boot a Linux kernel under KVM and watch it get far enough: the host's own
kernel (libguestfs needs one anyway), no initrd, no root — it reaches "VFS: Unable
to mount root fs" in about a second under a working KVM.  The answer is cached per
host boot; ``BOXWRIGHT_ACCEL=kvm|tcg`` overrides the probe.

Users: :mod:`boxwright.disk` (libguestfs' appliance) and the test-box step
(vagrant-libvirt's ``driver``: ``kvm`` or ``qemu``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from boxwright import paths
from boxwright.errors import UsageError
from boxwright.proc import is_dry, run

__all__ = ["ACCEL_ENV", "Accel", "detect_accel", "kvm_probe_argv"]

ACCEL_ENV = "BOXWRIGHT_ACCEL"
#: A working KVM boots to the root-fs panic in ~1 s; TCG takes ~5 s here.
PROBE_TIMEOUT = 10.0
_BOOTED = ("VFS: Unable to mount root", "Kernel panic", "end Kernel panic")


@dataclass(frozen=True)
class Accel:
    """The accelerator to use and why it was chosen."""

    name: str  # "kvm" or "tcg"
    reason: str

    @property
    def libvirt_driver(self) -> str:
        """vagrant-libvirt's ``libvirt.driver``: ``kvm`` or plain ``qemu`` (TCG)."""
        return "kvm" if self.name == "kvm" else "qemu"

    @property
    def qemu_accel(self) -> str:
        return self.name

    def libguestfs_env(self) -> dict[str, str]:
        """Environment for libguestfs tools: the direct backend, TCG forced when needed."""
        env = {"LIBGUESTFS_BACKEND": "direct"}
        if self.name == "tcg":
            env["LIBGUESTFS_BACKEND_SETTINGS"] = "force_tcg"
        return env


def kvm_probe_argv(kernel: Path, qemu: str = "qemu-system-x86_64") -> list[str]:
    """QEMU booting ``kernel`` under KVM with no root: it panics (and exits) once Linux is up."""
    return [
        qemu, "-accel", "kvm", "-nodefaults", "-no-user-config", "-display", "none",
        "-m", "256", "-serial", "stdio", "-monitor", "none", "-no-reboot",
        "-kernel", str(kernel), "-append", "console=ttyS0 panic=-1 quiet",
    ]


def detect_accel(*, use_cache: bool = True) -> Accel:
    """KVM if the override says so or a probe boots Linux under it, else TCG."""
    forced = os.environ.get(ACCEL_ENV, "").strip().lower()
    if forced:
        if forced not in ("kvm", "tcg"):
            raise UsageError(f"{ACCEL_ENV}={forced!r}: expected 'kvm' or 'tcg'")
        return Accel(forced, f"{ACCEL_ENV}={forced}")
    if not _kvm_device_usable():
        return Accel("tcg", "/dev/kvm is missing or not writable")
    cache = _cache_path()
    if use_cache and cache is not None and cache.is_file():
        return Accel(**json.loads(cache.read_text()))
    accel = _probe()
    if cache is not None and not is_dry():
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(asdict(accel)))
    return accel


def _kvm_device_usable() -> bool:
    return os.path.exists("/dev/kvm") and os.access("/dev/kvm", os.R_OK | os.W_OK)


def _host_kernel() -> Path | None:
    kernels = sorted(p for p in Path("/boot").glob("vmlinuz-*") if os.access(p, os.R_OK))
    return kernels[-1] if kernels else None


def _cache_path() -> Path | None:
    """One answer per host boot: a reboot (or a new kernel) asks again."""
    try:
        boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None
    return paths.build_dir() / "accel" / f"{boot_id}.json"


def _probe() -> Accel:
    kernel = _host_kernel()
    qemu = shutil.which("qemu-system-x86_64")
    if kernel is None or qemu is None:
        return Accel("kvm", "/dev/kvm is usable (no kernel or QEMU to probe it with)")
    started = time.monotonic()
    result = run(kvm_probe_argv(kernel, qemu), timeout=PROBE_TIMEOUT, check=False)
    if result.dry:
        return Accel("tcg", "dry run: KVM not probed")
    if result.timed_out:
        return Accel("tcg", f"KVM did not boot {kernel.name} within {PROBE_TIMEOUT:.0f} s (hangs)")
    seconds = time.monotonic() - started
    if any(marker in result.output for marker in _BOOTED):
        return Accel("kvm", f"KVM booted {kernel.name} in {seconds:.1f} s")
    why = (result.errors.strip().splitlines() or [result.describe()])[-1]
    return Accel("tcg", f"KVM could not boot {kernel.name}: {why}")
