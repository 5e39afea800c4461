"""Build a Vagrant box from ``boxes/<name>/``: rootfs, files, disk, a package per provider, catalog.

Each stage's output is kept under a hash of its inputs (:mod:`boxwright.box.stages`)
and reused when the hash matches; a build whose every input matches an existing
version reuses that version and finishes in seconds.  ``no_cache`` rebuilds all.
Each stage writes to a temporary path and renames it into place, so a failure or
Ctrl-C leaves the previous outputs and no half-written box.  The stages' figures
(durations, reuse, sizes, tool versions, keys) go to ``build.json`` beside the
boxes for ``invoke bench`` and for reuse.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from boxwright import __version__, hostparts, paths
from boxwright.atomic import atomic_dir, atomic_file, remove_stale_temporaries
from boxwright.box import virtualbox
from boxwright.box.accel import Accel, detect_accel
from boxwright.box.catalog import (
    add_version,
    build_version,
    provider_entry,
    read_catalog,
    sha256_file,
    version_key,
    write_catalog,
)
from boxwright.box.definition import BoxDefinition, box_names, load_box
from boxwright.box.disk import (
    GRUB_INSTALL,
    compress_argv,
    copy_argv,
    create_argv,
    disk_layout,
    files_script,
    guestfish_script,
    run_guestfish,
)
from boxwright.box.efi import early_config, grub_mkimage_argv, make_efi_binary
from boxwright.box.package import (
    Packaged,
    box_file_name,
    libvirt_metadata,
    package,
    qemu_info,
    render_libvirt_vagrantfile,
)
from boxwright.box.preload import image_ids, save_images
from boxwright.box.rootfs import (
    BACKUP_FILES,
    BACKUP_UNITS,
    COMMON_ROOTFS,
    MMDEBSTRAP_ENV,
    box_files_tar,
    mmdebstrap_argv,
    render_overlay,
    rendered_files,
)
from boxwright.box.stages import StageCache, StageKeys, digest, tool_versions, tree_digest
from boxwright.emulation import ensure_emulation
from boxwright.errors import BoxwrightError, BuildError, ToolMissing
from boxwright.proc import is_dry, require, run, stream
from boxwright.progress import note, step
from boxwright.provenance import git_dirty, git_revision, source_date_epoch
from boxwright.render import TEMPLATES_DIR

__all__ = [
    "BoxResult",
    "box_file_name",
    "build_box",
    "build_boxes",
    "catalog_path",
    "dist_boxes",
    "metadata",
    "render_vagrantfile",
    "stage_cache",
    "stage_keys",
    "work_boxes",
]

log = logging.getLogger(__name__)

#: Tools a box build runs, and the Debian package of each (the "box" part of hostparts.toml).
TOOLS = hostparts.tools("box")
#: The tools whose versions go into the stage keys (and build.json).
_VERSIONED_TOOLS = ("mmdebstrap", "qemu-img", "guestfish")
#: A box build needs about this much room in build/ and dist/ (rootfs, disk, boxes).
MIN_FREE_BYTES = 4 * 10**9
#: Templates each stage renders (a change to one changes that stage's key).
_DISK_TEMPLATES = ("box/fstab.j2", "box/grub.cfg.j2")
_PACKAGE_TEMPLATES = {"libvirt": ("box/Vagrantfile.j2",),
                      "virtualbox": ("box/virtualbox/box.ovf.j2", "box/virtualbox/Vagrantfile.j2")}

#: Definition fields the rootfs stage does not read (disk layout, VM settings, packaging).
_NOT_IN_ROOTFS = ("name", "path", "version", "description", "cpus", "memory", "disk_gb", "disk_bus",
                  "compression", "providers")

metadata = libvirt_metadata
render_vagrantfile = render_libvirt_vagrantfile


@dataclass
class BoxResult:
    """What a build produced (or reused) and what it cost."""

    name: str
    version: str
    box: Path
    catalog: Path
    accel: str
    boxes: dict[str, Path] = field(default_factory=dict)
    reused: bool = False
    stages: dict[str, float] = field(default_factory=dict)
    reused_stages: list[str] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    keys: StageKeys | None = None


def dist_boxes() -> Path:
    """Where built boxes and their catalogs go: ``dist/boxes/``."""
    return paths.dist_dir() / "boxes"


def work_boxes() -> Path:
    """The box builds' stage outputs and work files: ``~/.cache/boxwright/boxes/`` (the machine's,
    so a fresh clone reuses every stage whose inputs it has not changed)."""
    return paths.cache_dir() / "boxes"


def stage_cache(name: str, work: Path | None = None) -> StageCache:
    """Box ``name``'s stage outputs (under :func:`work_boxes`, or ``work``)."""
    return StageCache((work or work_boxes()) / name / "stages")


def catalog_path(box: BoxDefinition, dist: Path | None = None) -> Path:
    return (dist or dist_boxes()) / f"{box.name}.json"


def stage_keys(box: BoxDefinition, tools: dict[str, str]) -> StageKeys:
    """Every stage's key for ``box`` as it is now (renders templates, reads files; runs nothing)."""
    # What only the later stages read stays out of the rootfs key (the rendered files show the rest).
    definition = {k: v for k, v in box.__dict__.items() if k not in _NOT_IN_ROOTFS}
    rootfs = digest({
        "stage": "rootfs", "boxwright": __version__, "definition": definition, "name": box.name,
        "rendered": rendered_files(box, ""), "common": tree_digest(COMMON_ROOTFS),
        "base": tree_digest(TEMPLATES_DIR / "base"), "keys": [tree_digest(box.directory / "keys")],
        "argv": mmdebstrap_argv(box, Path("/overlay"), Path("/customize.sh"), Path("/out.tar"),
                                cache=Path("/cache")), "env": MMDEBSTRAP_ENV,
        "images": image_ids(box.preload_images), "mmdebstrap": tools.get("mmdebstrap"),
        "backup": [tree_digest(BACKUP_FILES), tree_digest(BACKUP_UNITS)] if box.backup else None,
    })
    files = digest({"stage": "files", "tree": tree_digest(box.rootfs)})
    layout = disk_layout(box)
    base_disk = digest({
        "stage": "base-disk", "rootfs": rootfs, "layout": layout.__dict__,
        "script": guestfish_script(layout, Path("/disk"), Path("/rootfs"), 1, _efi_path(box, Path("/"))),
        "grub-install": GRUB_INSTALL.read_text(),
        "efi": [grub_mkimage_argv(box, Path("/modules"), Path("/early.cfg"), Path("/efi")), early_config(box),
                tools.get("grub-mkimage")] if box.platform.uefi else None,
        "qemu-img": tools.get("qemu-img"), "libguestfs": tools.get("libguestfs"),
    })
    disk = digest({
        "stage": "disk", "base": base_disk, "files": files,
        "script": files_script(layout, Path("/disk"), Path("/files"), 1),
    })
    packages = {
        provider: digest({
            "stage": "package", "provider": provider, "disk": disk, "compression": box.compression,
            "cpus": box.cpus, "memory": box.memory, "disk_bus": box.disk_bus, "box_name": box.box_name,
            "description": box.description, "qemu-img": tools.get("qemu-img"),
            "templates": [(TEMPLATES_DIR / t).read_text() for t in _PACKAGE_TEMPLATES[provider]],
        })
        for provider in box.providers
    }
    return StageKeys(rootfs, files, base_disk, disk, packages)


def build_box(
    name: str,
    *,
    boxes_dir: Path | None = None,
    dist: Path | None = None,
    work: Path | None = None,
    no_cache: bool = False,
) -> BoxResult:
    """Build ``boxes_dir/name`` into ``dist/name/<version>/`` and add it to ``dist/name.json``.

    Reuses every stage whose inputs are unchanged, and the newest version whose inputs
    are all unchanged; ``no_cache`` rebuilds everything as a new version.
    """
    started = time.monotonic()
    dist, work = dist or dist_boxes(), work or work_boxes()
    box = load_box(name, boxes_dir)
    _check_tools()
    box_work = work / box.name
    if not is_dry():
        _check_space(box_work, dist)
    catalog_file = catalog_path(box, dist)
    catalog = read_catalog(catalog_file, box.box_name, box.description)
    tools = tool_versions((*_VERSIONED_TOOLS, *(("grub-mkimage",) if box.platform.uefi else ())))
    keys = stage_keys(box, tools)
    accel = detect_accel()
    if not no_cache:
        reused = _reusable_version(box, catalog, dist, keys)
        if reused is not None:
            reused.accel = accel.name
            reused.stages["total"] = round(time.monotonic() - started, 1)
            log.info("reused %s %s: inputs unchanged (input hash %s), %s", box.box_name, reused.version,
                     keys.input_hash[:12], ", ".join(str(p) for p in reused.boxes.values()))
            return reused
    version = build_version(box.version, catalog, datetime.datetime.now(datetime.UTC))
    cache = stage_cache(box.name, work)
    result = BoxResult(box.name, version, Path(), catalog_file, accel.name, keys=keys)
    if is_dry():
        _plan(box, version, keys, cache, catalog_file, accel, no_cache)
        return result
    for directory in (box_work, cache.root, dist, dist / box.name):
        remove_stale_temporaries(directory)
    cache.root.mkdir(parents=True, exist_ok=True)
    log.info("box %s %s: %s GB disk, %s, VMs under %s (%s)", box.box_name, version, box.disk_gb,
             ", ".join(box.providers), accel.name, accel.reason)
    count = 3 + len(box.providers) + 1
    target = dist / box.name / version
    try:
        rootfs = cache.path("rootfs", keys.rootfs, ".tar")
        if not _reuse(rootfs, "rootfs", 1, count, no_cache, result):
            with _stage(1, count, f"rootfs: mmdebstrap {box.suite} from {box.mirror}, customise", "rootfs",
                        result):
                _rootfs(box, version, rootfs, box_work, result)
        files = cache.path("files", keys.files, ".tar")
        if not _reuse(files, "files", 2, count, no_cache, result):
            with _stage(2, count, "files: the box's own rootfs/", "files", result):
                with atomic_file(files) as tmp:
                    members = box_files_tar(box, tmp, source_date_epoch())
                note("%s path(s) from %s", members, box.rootfs or "(no rootfs/ folder)")
        base = cache.path("base-disk", keys.base_disk, ".qcow2")
        disk = cache.path("disk", keys.disk, ".qcow2")
        if not _reuse(disk, "disk", 3, count, no_cache, result):
            label = "GPT + EFI system partition" if box.platform.uefi else "msdos label"
            with _stage(3, count, f"disk: qcow2, {label}, LVM, ext4, grub (libguestfs)", "disk", result):
                if no_cache or not base.is_file():
                    _base_disk(box, rootfs, base, accel)
                else:
                    note("base disk reused (rootfs and layout unchanged): %s", base.name)
                    result.reused_stages.append("base-disk")
                _disk(box, base, files, disk, accel)
        result.sizes["rootfs_tar"] = rootfs.stat().st_size
        disk_info = qemu_info(disk)
        result.sizes["disk_actual"] = int(disk_info["actual-size"])
        result.sizes["disk_virtual"] = int(disk_info["virtual-size"])
        info = _info(box, version, accel, keys, tools)
        packaged: list[Packaged] = []
        with atomic_dir(target) as out:
            for number, provider in enumerate(box.providers, start=4):
                with _stage(number, count, f"package {box_file_name(box, version, provider)}",
                            f"package-{provider}", result):
                    done = package(box, version, provider, disk, out, info, box_work)
                packaged.append(done)
                for key, size in done.sizes.items():
                    result.sizes[f"{provider}_{key}"] = size
            with _stage(count, count, f"catalog {catalog_file.name}", "catalog", result):
                entries = [provider_entry(target / p.path.name, sha256_file(p.path), p.provider,
                                          architecture=box.arch) for p in packaged]
        write_catalog(catalog_file, add_version(catalog, version, entries, box.description))
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise BuildError(f"no space left on the device holding {error.filename or work}") from None
        raise
    result.boxes = {p.provider: target / p.path.name for p in packaged}
    result.box = next(iter(result.boxes.values()))
    result.sizes["box"] = result.box.stat().st_size
    total = time.monotonic() - started
    (target / "build.json").write_text(json.dumps(_report(result, total, tools), indent=2) + "\n")
    sizes = ", ".join(f"{p} {file.stat().st_size / 1e6:.0f} MB" for p, file in result.boxes.items())
    kept = f" (reused: {', '.join(result.reused_stages)})" if result.reused_stages else ""
    log.info("built %s %s in %.0f s%s: %s (%s; qcow2 %s GB virtual, %.0f MB used)\n"
             "add it with: vagrant box add --provider %s %s", box.box_name, version, total, kept, target,
             sizes, box.disk_gb, result.sizes["disk_actual"] / 1e6, box.providers[0], catalog_file)
    return result


def build_boxes(name: str | None = None, *, boxes_dir: Path | None = None, **options: Any) -> list[BoxResult]:
    """Build ``name``, or every definition under ``boxes_dir`` (each architecture's box); keep going
    after a failure (an arm64 box on a host that cannot emulate), then list the failures."""
    if name:
        return [build_box(name, boxes_dir=boxes_dir, **options)]
    names = box_names(boxes_dir)
    results, failures = [], []
    for each in names:
        try:
            results.append(build_box(each, boxes_dir=boxes_dir, **options))
        except BoxwrightError as error:
            failures.append(f"  {each}: {str(error).splitlines()[0]}")
            log.error("%s: %s", each, error)
    if failures:
        built = ", ".join(r.name for r in results) or "none"
        raise BuildError(f"{len(failures)} of {len(names)} box(es) failed (built: {built}):\n"
                         + "\n".join(failures))
    return results


def _reusable_version(box: BoxDefinition, catalog: dict[str, Any], dist: Path,
                      keys: StageKeys) -> BoxResult | None:
    """The newest catalogued version built from exactly these inputs, with all its .box files."""
    for entry in sorted(catalog["versions"], key=lambda v: version_key(v["version"]), reverse=True):
        version = entry["version"]
        report_file = dist / box.name / version / "build.json"
        try:
            report = json.loads(report_file.read_text())
        except (OSError, ValueError):
            continue
        if report.get("keys", {}).get("input_hash") != keys.input_hash:
            continue
        boxes = {p: dist / box.name / version / box_file_name(box, version, p) for p in box.providers}
        if all(path.is_file() for path in boxes.values()):
            first = next(iter(boxes.values()))
            return BoxResult(box.name, version, first, catalog_path(box, dist), "", boxes=boxes, reused=True,
                             reused_stages=["all"], sizes={"box": first.stat().st_size}, keys=keys)
    return None


def _plan(box: BoxDefinition, version: str, keys: StageKeys, cache: StageCache, catalog_file: Path,
          accel: Accel, no_cache: bool) -> None:
    """``--dry``: what each stage would do (reuse it, or the commands it would run); nothing is written."""
    log.info("box %s %s: %s; dry run, nothing is built", box.box_name, version, ", ".join(box.providers))
    rootfs, files = cache.path("rootfs", keys.rootfs, ".tar"), cache.path("files", keys.files, ".tar")
    base, disk = cache.path("base-disk", keys.base_disk, ".qcow2"), cache.path("disk", keys.disk, ".qcow2")
    for stage, path in (("rootfs", rootfs), ("files", files), ("base disk", base), ("disk", disk)):
        note("would %s %s: %s", "reuse" if path.is_file() and not no_cache else "build", stage, path)
    overlay = cache.root / "overlay" / "rootfs"
    run(mmdebstrap_argv(box, overlay, overlay.parent / "customize.sh", rootfs), env=_mmdebstrap_env(),
        what="mmdebstrap")
    smp = _appliance_cpus()
    run(create_argv(base, box.disk_gb), what="qemu-img create")
    efi = _efi_path(box, cache.root)
    if efi is not None:
        run(grub_mkimage_argv(box, Path(f"(rootfs)/usr/lib/grub/{box.platform.grub_target}"),
                              Path("early.cfg"), efi), what="grub-mkimage")
    stream(["guestfish", "--no-progress-bars"], env=accel.libguestfs_env(),
           input=guestfish_script(disk_layout(box), base, rootfs, smp, efi))
    run(copy_argv(base, disk), what="cp")
    stream(["guestfish", "--no-progress-bars"], env=accel.libguestfs_env(),
           input=files_script(disk_layout(box), disk, files, smp))
    target = catalog_file.parent / box.name / version
    for provider in box.providers:
        if provider == "libvirt":
            run(compress_argv(disk, cache.root / "box.img", box.compression), what="qemu-img convert")
        else:
            note("would write %s (streamOptimized, deflated on every core)", virtualbox.VMDK)
        note("would write %s", target / box_file_name(box, version, provider))
    note("would add version %s to %s", version, catalog_file)


def _reuse(path: Path, stage: str, number: int, count: int, no_cache: bool, result: BoxResult) -> bool:
    if no_cache or not path.is_file():
        return False
    log.info("==> [%d/%d] %s: reused %s (inputs unchanged)", number, count, stage, path.name)
    result.reused_stages.append(stage)
    result.stages[stage] = 0.0
    return True


@contextlib.contextmanager
def _stage(number: int, count: int, title: str, key: str, result: BoxResult) -> Iterator[None]:
    """Stage ``number`` as a progress step; its seconds go to ``result.stages[key]``."""
    with step(f"[{number}/{count}] {title}", short=f"[{number}/{count}]") as current:
        yield
    result.stages[key] = round(current.seconds, 1)


def _check_tools() -> None:
    require(*TOOLS)
    if not any(Path("/boot").glob("vmlinuz-*")):
        raise ToolMissing("a Linux kernel in /boot (libguestfs boots it)", "linux-image-amd64")


def _check_space(*paths: Path) -> None:
    for path in paths:
        path.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(path).free
        if free < MIN_FREE_BYTES:
            raise BuildError(
                f"only {free / 1e9:.1f} GB free in {path}; a box build needs {MIN_FREE_BYTES / 1e9:.0f} GB"
            )


def _rootfs(box: BoxDefinition, version: str, rootfs: Path, work: Path, result: BoxResult) -> None:
    """One mmdebstrap run: packages, then (in its customize hooks) the common files and the script."""
    started = time.monotonic()
    # A foreign architecture's packages configure under QEMU user emulation (one line if it cannot).
    ensure_emulation(box.platform.platform)
    with tempfile.TemporaryDirectory(prefix="overlay-", dir=work) as tmp, atomic_file(rootfs) as out:
        script = render_overlay(box, version, Path(tmp) / "rootfs", source_date_epoch())
        if box.preload_images:
            saved = save_images(box.preload_images, Path(tmp) / "rootfs")
            result.sizes["preload_images"] = saved
            note("saved %s for first boot (%.0f MB)", ", ".join(box.preload_images), saved / 1e6)
        argv = mmdebstrap_argv(box, Path(tmp) / "rootfs", script, out)

        def watch(line: str) -> None:
            if line.startswith("I: running --customize-hook") and "packages" not in result.stages:
                result.stages["packages"] = round(time.monotonic() - started, 1)
                note("packages in %.1f s; customise: files, users, services, first-boot identity",
                     result.stages["packages"])
            elif line.startswith("customize: "):
                note("%s", line.rstrip())

        stream(argv, on_line=watch, env=_mmdebstrap_env(), what="mmdebstrap")
    note("rootfs %.0f MB", rootfs.stat().st_size / 1e6)


def _base_disk(box: BoxDefinition, rootfs: Path, base: Path, accel: Accel) -> None:
    """The rootfs on a new disk: label, LVM, ext4, swap, grub (the long appliance run)."""
    with atomic_file(base) as tmp, tempfile.TemporaryDirectory(prefix="efi-", dir=base.parent) as efi_dir:
        run(create_argv(tmp, box.disk_gb), what="qemu-img create")
        efi = _efi_path(box, Path(efi_dir))
        if efi is not None:
            make_efi_binary(box, rootfs, efi)
            note("%s from the rootfs' GRUB %s modules (%.0f KB)", efi.name, box.platform.grub_target,
                 efi.stat().st_size / 1e3)
        run_guestfish(guestfish_script(disk_layout(box), tmp, rootfs, _appliance_cpus(), efi), accel,
                      watch=tmp, on_step=_step_timer())


def _efi_path(box: BoxDefinition, directory: Path) -> Path | None:
    """Where a UEFI box's GRUB image is made (None for a BIOS box)."""
    return directory / box.platform.efi_binary if box.platform.uefi else None


def _mmdebstrap_env() -> dict[str, str]:
    return {"SOURCE_DATE_EPOCH": str(source_date_epoch()), **MMDEBSTRAP_ENV}


def _disk(box: BoxDefinition, base: Path, files: Path, disk: Path, accel: Accel) -> None:
    """A copy of the base disk with the box's own files unpacked onto it (a short appliance run)."""
    with atomic_file(disk) as tmp:
        run(copy_argv(base, tmp), what="cp")
        run_guestfish(files_script(disk_layout(box), tmp, files, _appliance_cpus()), accel, watch=tmp,
                      on_step=_step_timer())


def _appliance_cpus() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def _step_timer() -> Callable[[str], None]:
    """An ``on_step`` for :func:`run_guestfish` that notes each step that ended, with its duration."""
    current: dict[str, Any] = {"title": "", "since": time.monotonic()}

    def step(title: str) -> None:
        now = time.monotonic()
        if current["title"]:
            note("%s: %.1f s", current["title"], now - float(current["since"]))
        current.update(title=title, since=now)

    return step


def _info(box: BoxDefinition, version: str, accel: Accel, keys: StageKeys,
          tools: dict[str, str]) -> dict[str, Any]:
    """``info.json`` (shown by ``vagrant box list -i``): where the box came from, what built it."""
    return {
        "name": box.box_name,
        "version": version,
        "description": box.description,
        "suite": box.suite,
        "built_by": f"boxwright {__version__}",
        "git_revision": git_revision(),
        "git_dirty": git_dirty(),
        "built_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "accelerator": accel.name,
        "architecture": box.arch,
        "tools": {**tools, "vagrant": _vagrant_version()},
        "input_hash": keys.input_hash,
    }


def _vagrant_version() -> str:
    """The Vagrant the box was made for (recorded only; absent Vagrant is not an error here)."""
    if shutil.which("vagrant") is None:
        return ""
    output = run(["vagrant", "--version"], what="vagrant --version", check=False).output
    return output.strip().removeprefix("Vagrant ").strip()


def _report(result: BoxResult, total: float, tools: dict[str, str]) -> dict[str, Any]:
    return {
        "name": result.name,
        "version": result.version,
        "accelerator": result.accel,
        "stages_seconds": result.stages,
        "reused_stages": result.reused_stages,
        "total_seconds": round(total, 1),
        "sizes_bytes": result.sizes,
        "tools": tools,
        "keys": result.keys.as_dict() if result.keys else {},
    }
