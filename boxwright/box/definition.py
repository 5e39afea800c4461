"""Box definitions: ``boxes/<name>/box.toml`` loaded into typed objects.

The folder name is the box's identity; ``boxes/<name>/rootfs/`` holds files at
the paths they get inside the box.  What every bootable box needs (kernel,
grub, lvm2, sshd, ...) is boxwright's business (:mod:`boxwright.rootfs`); the
definition says what this box adds and how big it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from boxwright import paths
from boxwright.box.arch import BOX_ARCHES, BoxArch
from boxwright.errors import DefinitionError
from boxwright.image.definition import DEBIAN_SUITES
from boxwright.schema import (
    check_image_references,
    check_mirror,
    check_name,
    check_package,
    check_packages,
    load_table,
    option,
    read_toml,
    version_check,
)

__all__ = ["FULL_DISK_EXCLUDES", "PROVIDERS", "Backup", "BoxDefinition", "Lvm", "User", "box_names",
           "load_box"]

DOCKER_FLAVOURS = ("docker.io", "none")
DISK_BUSES = ("virtio", "scsi", "sata", "ide")
COMPRESSIONS = ("zstd", "zlib")
#: Vagrant providers a box can be packaged for (boxwright.box.package packs each).
PROVIDERS = ("libvirt", "virtualbox")

#: LVM names without '-' so device-mapper paths stay /dev/mapper/<vg>-<lv>.
_LVM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
#: Boxes name a release line; each build adds its own .Z (boxwright.box.catalog).
_check_version = version_check(2, "each build adds its own .Z")


def _check_range(low: int, high: int, unit: str):  # type: ignore[no-untyped-def]
    def check(value: int) -> str | None:
        ok = low <= value <= high
        return None if ok else f"expected {low}..{high} {unit}; got {value}"
    return check


def _check_lvm_name(value: str) -> str | None:
    ok = _LVM_NAME.match(value)
    return None if ok else f"expected a-z, 0-9 and '_' (no '-'), starting with a letter; got {value!r}"


def _check_providers(value: tuple[str, ...]) -> str | None:
    unknown = [name for name in value if name not in PROVIDERS]
    if unknown:
        return f"unknown provider {unknown[0]!r} (known: {', '.join(PROVIDERS)})"
    if len(set(value)) != len(value):
        return f"a provider is listed twice in {list(value)}"
    return None if value else "expected at least one provider"


def _check_user(value: str) -> str | None:
    return None if _USER.match(value) else f"expected a Unix user name; got {value!r}"


@dataclass(frozen=True)
class Lvm:
    """One PV on the whole disk, one VG, a swap LV and a root LV filling the rest."""

    vg: str = option("boxwright", check=_check_lvm_name)
    root: str = option("root", check=_check_lvm_name)
    swap: str = option("swap", check=_check_lvm_name)
    swap_mb: int = option(1024, check=_check_range(64, 65536, "MB"))


@dataclass(frozen=True)
class User:
    """A login: passwordless sudo and SSH keys are opt-in per user."""

    name: str = option(check=_check_user)
    groups: tuple[str, ...] = option(factory=tuple)
    sudo: bool = option(False)
    #: Public key files, relative to the box folder, copied to ~/.ssh/authorized_keys.
    authorized_keys: tuple[str, ...] = option(factory=tuple)
    shell: str = option("/bin/bash")


#: What a full-disk backup of a VM leaves out: kernel file systems, caches, temporary and
#: mount points (the classic duply exclude list); ``[backup] exclude`` adds to it.
FULL_DISK_EXCLUDES = (
    "/dev", "/proc", "/sys", "/tmp", "/run", "/var/run", "/var/tmp", "/var/log", "/var/cache/*/*",
    "/var/lib/docker/overlay2", "/home/*/.cache", "/root/.cache", "/lost+found", "/media", "/mnt",
    "/swapfile",
)


def _check_calendar(value: str) -> str | None:
    ok = value and "\n" not in value and len(value) < 100
    return None if ok else f"expected a systemd OnCalendar value like 'daily' or 'Sun 02:00'; got {value!r}"


def _check_interval(value: str) -> str | None:
    ok = re.match(r"^[1-9][0-9]*[smhDWMY]$", value)
    return None if ok else f"expected an interval like '7D', '1M' or '1Y' (s m h D W M Y); got {value!r}"


def _check_excludes(value: tuple[str, ...]) -> str | None:
    bad = [p for p in value if not p.startswith(("/", "**")) or "\n" in p]
    return f"expected absolute paths or globs like '/srv/scratch'; got {bad[0]!r}" if bad else None


@dataclass(frozen=True)
class Backup:
    """``[backup]``: a full-disk duplicity backup on a systemd timer (README.md, backups).

    Secrets are never in the box: the timer's runs are skipped until
    ``/etc/boxwright/backup.env`` (0600, written by a provisioner or by hand) exists.
    """

    schedule: str = option("*-*-* 02:00:00", check=_check_calendar)
    full_every: str = option("1M", check=_check_interval)
    keep: str = option("6M", check=_check_interval)
    volume_mb: int = option(50, check=_check_range(1, 4096, "MB"))
    exclude: tuple[str, ...] = option(factory=tuple, check=_check_excludes)

    @property
    def paths(self) -> tuple[str, ...]:
        return ("/",)

    @property
    def excludes(self) -> tuple[str, ...]:
        """duplicity's own cache, the full-disk list, then the definition's own."""
        own = tuple(p for p in self.exclude if p not in FULL_DISK_EXCLUDES)
        return ("/var/cache/duplicity", *FULL_DISK_EXCLUDES, *own)


@dataclass(frozen=True)
class BoxDefinition:
    """One box: the Debian it comes from, what goes in, the VM it describes."""

    version: str = option(check=_check_version)
    description: str = option("")
    suite: str = option("trixie", choices=DEBIAN_SUITES)
    #: Debian architecture (README.md, architectures); the kernel defaults to the arch's.
    arch: str = option("amd64", choices=tuple(BOX_ARCHES))
    mirror: str = option("http://deb.debian.org/debian", check=check_mirror)
    kernel: str = option("linux-image-cloud-amd64", check=check_package)
    docker: str = option("docker.io", choices=DOCKER_FLAVOURS)
    #: Added to the console settings; memory/swap accounting for Docker's limits.
    kernel_cmdline: str = option("net.ifnames=0 cgroup_enable=memory swapaccount=1")
    packages: tuple[str, ...] = option(factory=tuple, check=check_packages)
    hostname: str = option("", check=check_name)
    cpus: int = option(2, check=_check_range(1, 64, "CPUs"))
    memory: int = option(2048, check=_check_range(256, 262144, "MB"))
    disk_gb: int = option(40, check=_check_range(2, 2048, "GB"))
    disk_bus: str = option("virtio", choices=DISK_BUSES)
    compression: str = option("zstd", choices=COMPRESSIONS)
    #: One disk is built; it is packaged once per provider.
    providers: tuple[str, ...] = option(("libvirt",), check=_check_providers)
    lvm: Lvm = option(factory=Lvm)
    users: tuple[User, ...] = option(factory=tuple)
    #: Docker images saved at build time and loaded at first boot (needs docker).
    preload_images: tuple[str, ...] = option(factory=tuple, check=check_image_references)
    #: Backups (off without the section).
    backup: Backup | None = option(None)
    #: Filled by :func:`load_box`, not by the TOML.
    name: str = field(default="", init=False)
    path: Path = field(default=Path(), init=False)

    @property
    def directory(self) -> Path:
        return self.path.parent

    @property
    def rootfs(self) -> Path | None:
        path = self.directory / "rootfs"
        return path if path.is_dir() else None

    @property
    def platform(self) -> BoxArch:
        """Firmware, boot loader, emulator and Vagrant domain settings of :attr:`arch`."""
        return BOX_ARCHES[self.arch]

    @property
    def box_name(self) -> str:
        """The name users ``vagrant init`` with."""
        return f"boxwright/{self.name}"


def box_names(boxes_dir: Path | None = None) -> list[str]:
    """Every definition under ``boxes_dir`` (default: :func:`boxwright.paths.boxes_dir`), sorted."""
    boxes_dir = boxes_dir or paths.boxes_dir()
    return sorted(p.parent.name for p in boxes_dir.glob("*/box.toml"))


def load_box(name: str, boxes_dir: Path | None = None) -> BoxDefinition:
    """Load and validate ``boxes_dir/name/box.toml``; cross-field checks included."""
    boxes_dir = boxes_dir or paths.boxes_dir()
    path = boxes_dir / name / "box.toml"
    if problem := check_name(name):
        raise DefinitionError(path, None, f"bad box name: {problem}")
    if not path.is_file():
        known = ", ".join(box_names(boxes_dir)) or "none"
        raise DefinitionError(path, None, f"no box definition {name!r} (known: {known})")
    table = read_toml(path)
    table.setdefault("hostname", name.replace(".", "-").replace("_", "-"))
    arch = table.get("arch", "amd64")
    if isinstance(arch, str) and arch in BOX_ARCHES:
        table.setdefault("kernel", BOX_ARCHES[arch].kernel)
    definition = load_table(BoxDefinition, table, path)
    object.__setattr__(definition, "name", name)
    object.__setattr__(definition, "path", path)
    _check_consistency(definition)
    return definition


def _check_consistency(box: BoxDefinition) -> None:
    path = box.path
    other = [a for a in BOX_ARCHES if a != box.arch]
    if any(box.kernel.endswith(f"-{a}") for a in other):
        raise DefinitionError(path, "kernel", f"{box.kernel} is not a kernel for arch {box.arch!r}")
    if box.lvm.root == box.lvm.swap:
        raise DefinitionError(path, "lvm.swap", f"must differ from lvm.root ({box.lvm.root!r})")
    if box.lvm.swap_mb + 1024 > box.disk_gb * 1024:
        raise DefinitionError(path, "lvm.swap_mb", f"leaves no room for root on a {box.disk_gb} GB disk")
    if box.preload_images and box.docker == "none":
        raise DefinitionError(path, "preload_images", "needs docker (docker = 'none')")
    names = [user.name for user in box.users]
    for index, user in enumerate(box.users):
        if user.name in names[:index]:
            raise DefinitionError(path, f"users[{index}].name", f"duplicate user {user.name!r}")
        if user.name == "root":
            raise DefinitionError(path, f"users[{index}].name", "root is locked; define another user")
        for key_file in user.authorized_keys:
            if not (box.directory / key_file).is_file():
                raise DefinitionError(
                    path, f"users[{index}].authorized_keys", f"no such file {key_file!r} in {box.directory}"
                )
        if "docker" in user.groups and box.docker == "none":
            raise DefinitionError(path, f"users[{index}].groups", "group 'docker' needs docker")
