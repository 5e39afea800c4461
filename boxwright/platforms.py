"""The architectures boxwright builds for, by every name the tools use for them.

Docker says ``linux/arm64``, Debian and mmdebstrap say ``arm64``, the kernel
and ``uname -m`` say ``aarch64``, QEMU's user-mode emulator is ``qemu-aarch64``.
One row per architecture keeps those names from drifting apart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from boxwright.errors import UsageError

__all__ = ["PLATFORMS", "Platform", "host_platform", "platform"]


@dataclass(frozen=True)
class Platform:
    """One architecture: its Docker platform string and its other names."""

    name: str  #: Docker/OCI: ``linux/arm64``
    debian: str  #: Debian/mmdebstrap/dpkg: ``arm64``
    machine: str  #: kernel/uname: ``aarch64``

    @property
    def os(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def architecture(self) -> str:
        """The OCI ``architecture`` field (``arm64``)."""
        return self.name.split("/", 1)[1]

    @property
    def qemu(self) -> str:
        """The binfmt_misc entry and emulator that run this architecture's binaries elsewhere."""
        return f"qemu-{self.machine}"

    @property
    def is_host(self) -> bool:
        return self == host_platform()


PLATFORMS: dict[str, Platform] = {
    p.name: p
    for p in (Platform("linux/amd64", "amd64", "x86_64"), Platform("linux/arm64", "arm64", "aarch64"))
}


def host_platform() -> Platform:
    """The platform this machine runs natively (by the kernel's machine name)."""
    machine = os.uname().machine
    for candidate in PLATFORMS.values():
        if candidate.machine == machine:
            return candidate
    raise UsageError(f"boxwright does not know this machine's architecture {machine!r}")


def platform(name: str) -> Platform:
    """Look a platform up by its Docker name (``linux/arm64``); bad input is one line."""
    try:
        return PLATFORMS[name]
    except KeyError:
        raise UsageError(
            f"unknown platform {name!r}: expected one of {', '.join(PLATFORMS)}"
        ) from None
