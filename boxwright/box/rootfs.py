"""Stage 1 and 2 of a box: a bootable Debian rootfs from mmdebstrap, customised in its hooks.

mmdebstrap writes a tarball; on the way its hooks copy the files every box gets in
(``templates/box/rootfs/``, the rendered fstab and grub files and the customisation
script) and run that script in the chroot.  The box's own ``boxes/<name>/rootfs/``
goes over that on the disk (stage ``files``), so editing it does not redo this stage.
No hypervisor, no installer, no mounts: this stage runs at native speed.  Downloaded packages
are kept in ``~/.cache/boxwright/boxes/apt-cache/<suite>-<arch>`` so a rebuild does not fetch them
again.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tarfile
from pathlib import Path
from typing import Any

from boxwright import PROJECT_ROOT, paths
from boxwright.box.definition import BoxDefinition
from boxwright.debian import common_argv
from boxwright.image.services import SERVICES
from boxwright.render import TEMPLATES_DIR, copy_tree, render_template

__all__ = [
    "BOOT_PACKAGES",
    "COMMON_ROOTFS",
    "EFI_LABEL",
    "MMDEBSTRAP_ENV",
    "box_files_tar",
    "box_packages",
    "kernel_cmdline",
    "mmdebstrap_argv",
    "render_overlay",
    "rendered_files",
    "template_context",
]

#: What every box needs to boot from LVM, get an address and let Vagrant in (and its
#: architecture's boot loader, :attr:`BoxArch.grub`).
BOOT_PACKAGES = (
    "systemd-sysv", "udev", "dbus", "kmod", "initramfs-tools", "lvm2", "e2fsprogs",
    "iproute2", "systemd-resolved", "openssh-server", "sudo", "qemu-guest-agent", "rsync",
    "ca-certificates",
)
#: Suites whose docker.io still contains the docker CLI (trixie split it into docker-cli).
_CLI_IN_DOCKER_IO = ("bullseye", "bookworm", "oldoldstable", "oldstable")
CUSTOMIZE_PATH = "/tmp/boxwright-customize.sh"
#: The file system label of the EFI system partition (UEFI boxes; fstab mounts it at /boot/efi).
EFI_LABEL = "EFI"
#: The environment mmdebstrap runs in.  ``INITRD=No``: the kernel's postinst makes no initramfs
#: (with every module, slow under emulation); the customise script makes one, once, with the
#: boxwright module list.
MMDEBSTRAP_ENV = {"INITRD": "No"}
#: Files every box gets (sshd, network, host keys, initramfs); a box's rootfs/ goes over them.
COMMON_ROOTFS = TEMPLATES_DIR / "box" / "rootfs"
#: The image's backup service: boxes with [backup] get the same tool, profile and hooks
#: (its cron job aside: boxes run it from a systemd timer, ``templates/box/backup/``).
BACKUP_FILES = PROJECT_ROOT / "images" / "baseimage" / "services" / "backup"
BACKUP_TEMPLATES = ("etc/duply/main/conf", "etc/duply/main/exclude")
BACKUP_UNITS = TEMPLATES_DIR / "box" / "backup"


def box_packages(box: BoxDefinition) -> list[str]:
    """Sorted, de-duplicated: boot essentials and loader, the kernel, Docker, the definition's extras."""
    docker: tuple[str, ...] = ()
    if box.docker == "docker.io":
        docker = ("docker.io",) if box.suite in _CLI_IN_DOCKER_IO else ("docker.io", "docker-cli")
    backup = SERVICES["backup"].packages if box.backup else ()
    return sorted({*BOOT_PACKAGES, *box.platform.grub, box.kernel, *docker, *backup, *box.packages})


def kernel_cmdline(box: BoxDefinition) -> str:
    """Serial console first (the last console= gets /dev/console), then the definition's."""
    return f"console=tty0 console={box.platform.console} {box.kernel_cmdline}".strip()


def template_context(box: BoxDefinition, version: str) -> dict[str, Any]:
    """Everything the box templates may use, derived from the definition and the version."""
    enable = ["systemd-networkd.service", "systemd-resolved.service", "ssh.service"]
    #: Nothing to do in a VM with no LVM snapshots, no e2scrub timer and no grub menu to remember.
    disable = ["lvm2-monitor.service", "e2scrub_reap.service", "grub-common.service"]
    if box.docker != "none":
        enable += ["containerd.service", "docker.service"]
    if box.preload_images:
        enable.append("boxwright-preload-images.service")
    if box.backup:
        enable.append("boxwright-backup.timer")
    users = [
        {
            "name": user.name,
            "groups": list(user.groups),
            "sudo": user.sudo,
            "shell": user.shell,
            "ssh_keys": [_read_key(box, key) for key in user.authorized_keys],
        }
        for user in box.users
    ]
    return {
        "name": box.name,
        "box_name": box.box_name,
        "version": version,
        "suite": box.suite,
        "hostname": box.hostname,
        "arch": box.platform,
        "efi_label": EFI_LABEL,
        "cpus": box.cpus,
        "memory": box.memory,
        "disk_bus": box.disk_bus,
        "vg": box.lvm.vg,
        "root": box.lvm.root,
        "swap": box.lvm.swap,
        "cmdline": kernel_cmdline(box),
        "users": users,
        "enable": enable,
        "disable": disable,
    }


def _read_key(box: BoxDefinition, key_file: str) -> str:
    lines = [line.strip() for line in (box.directory / key_file).read_text().splitlines()]
    return "\n".join(line for line in lines if line and not line.startswith("#"))


#: Files rendered from templates into every rootfs (path in the rootfs -> template).
RENDERED = {
    "etc/fstab": "box/fstab.j2",
    "etc/default/grub": "box/default-grub.j2",
    "boot/grub/grub.cfg": "box/grub.cfg.j2",
}
CUSTOMIZE_TEMPLATE = "box/customize.sh.j2"


def rendered_files(box: BoxDefinition, version: str) -> dict[str, str]:
    """The rendered files (and, as ``customize.sh``, the customise script) of the rootfs stage."""
    context = template_context(box, version)
    texts = {path: render_template(template, context) for path, template in RENDERED.items()}
    return {**texts, "customize.sh": render_template(CUSTOMIZE_TEMPLATE, context)}


def render_overlay(box: BoxDefinition, version: str, target: Path, mtime: int) -> Path:
    """Write the files every box's rootfs gets on top of the packages; return the customise script.

    The box's own ``rootfs/`` is not part of it: it goes over the customised rootfs on the
    disk (:func:`box_files_tar`), so changing one of its files leaves this stage reusable.
    """
    copy_tree([COMMON_ROOTFS], target, mtime)
    texts = rendered_files(box, version)
    for path, text in texts.items():
        if path == "customize.sh":
            continue
        out = target / path
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    if box.backup:
        _backup_overlay(box, target, mtime)
    script = target.parent / "customize.sh"
    script.write_text(texts["customize.sh"])
    for entry in [*target.rglob("*"), target, script]:
        os.utime(entry, (mtime, mtime), follow_symlinks=False)
    return script


def box_files_tar(box: BoxDefinition, out: Path, mtime: int) -> int:
    """``boxes/<name>/rootfs/`` as a tar owned by root with fixed mtimes; return its member count."""
    count = 0
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tar:
        if box.rootfs is None:
            return 0
        for path in sorted(box.rootfs.rglob("*")):
            info = tar.gettarinfo(str(path), str(path.relative_to(box.rootfs)))
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = mtime
            if info.isfile():
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
            count += 1
    return count


def _backup_overlay(box: BoxDefinition, target: Path, mtime: int) -> None:
    """The backup tool, its profile rendered from ``[backup]``, the systemd service and timer."""
    assert box.backup is not None
    copy_tree([BACKUP_FILES], target, mtime)
    for template in target.rglob("*.j2"):
        template.unlink()
    for path in BACKUP_TEMPLATES:
        (target / path).write_text(render_template(f"{path}.j2", {"options": box.backup}, BACKUP_FILES))
    units = target / "etc" / "systemd" / "system"
    units.mkdir(parents=True, exist_ok=True)
    shutil.copy(BACKUP_UNITS / "boxwright-backup.service", units)
    (units / "boxwright-backup.timer").write_text(
        render_template("boxwright-backup.timer.j2", {"backup": box.backup}, BACKUP_UNITS))
    boxwright_etc = target / "etc" / "boxwright"
    boxwright_etc.mkdir(parents=True, exist_ok=True)
    shutil.copy(BACKUP_UNITS / "backup.env.example", boxwright_etc)


def mmdebstrap_argv(
    box: BoxDefinition, overlay: Path, script: Path, output: Path, cache: Path | None = None
) -> list[str]:
    """The mmdebstrap command writing the customised rootfs of ``box`` as a tarball.

    ``cache`` keeps the downloaded .debs between builds (default: ``~/.cache/boxwright/boxes/apt-cache``).
    """
    cache = cache or paths.cache_dir() / "boxes" / "apt-cache"
    suite_cache = shlex.quote(str(cache / f"{box.suite}-{box.arch}"))
    return [
        *common_argv(box.suite, arch=box.arch),
        '--aptopt=APT::Install-Recommends "false"',
        '--aptopt=Acquire::Languages "none"',
        "--include=" + ",".join(box_packages(box)),
        # Keep downloaded .debs between builds (mmdebstrap(1), "sync-in"/"sync-out").
        "--skip=essential/unlink",
        f'--setup-hook=mkdir -p {suite_cache} "$1"/var/cache/apt/archives/',
        f"--setup-hook=sync-in {suite_cache} /var/cache/apt/archives/",
        f"--customize-hook=sync-out /var/cache/apt/archives {suite_cache}",
        f"--customize-hook=sync-in {shlex.quote(str(overlay))} /",
        f"--customize-hook=copy-in {shlex.quote(str(script))} /tmp",
        f'--customize-hook=mv "$1"/tmp/{script.name} "$1"{CUSTOMIZE_PATH}',
        f'--customize-hook=chroot "$1" sh {CUSTOMIZE_PATH}',
        f'--customize-hook=rm "$1"{CUSTOMIZE_PATH}',
        box.suite,
        str(output),
        box.mirror,
    ]
