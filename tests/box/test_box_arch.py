"""Box architectures: ``arch`` in box.toml, the aarch64 Vagrantfile real Vagrant validates,
and a catalog with ``architecture`` that Debian's Vagrant 2.3.4 still adds."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from boxwright.box.build import render_vagrantfile
from boxwright.box.catalog import add_version, provider_entry, read_catalog, sha256_file, write_catalog
from boxwright.box.definition import load_box
from boxwright.errors import DefinitionError

SHIPPED = Path(__file__).parents[2] / "boxes" / "docker-host"
AARCH64_SETTINGS = ('libvirt.machine_arch = "aarch64"', 'libvirt.machine_type = "virt"',
                    'libvirt.loader = "/usr/share/AAVMF/AAVMF_CODE.fd"', "libvirt.nvram = ",
                    'libvirt.graphics_type = "none"', 'libvirt.features = ["acpi"]',
                    'libvirt.input :type => "tablet", :bus => "virtio"', 'libvirt.cpu_model = "cortex-a57"')


def definition(tmp_path: Path, extra: str) -> Path:
    shutil.copytree(SHIPPED, tmp_path / "box")
    path = tmp_path / "box" / "box.toml"
    path.write_text(path.read_text().replace('suite = "trixie"\n', f'suite = "trixie"\n{extra}', 1))
    return path


def test_default_is_amd64_with_its_kernel(tmp_path):
    definition(tmp_path, "")
    box = load_box("box", tmp_path)
    assert (box.arch, box.kernel, box.platform.firmware) == ("amd64", "linux-image-cloud-amd64", "bios")


def test_arm64_gets_its_kernel_uefi_and_grub(tmp_path):
    definition(tmp_path, 'arch = "arm64"\n')
    box = load_box("box", tmp_path)
    assert (box.kernel, box.platform.firmware, box.platform.grub_target) == (
        "linux-image-cloud-arm64", "uefi", "arm64-efi")


def test_unknown_arch_names_file_key_and_accepted_values(tmp_path):
    path = definition(tmp_path, 'arch = "s390x"\n')
    with pytest.raises(DefinitionError) as caught:
        load_box("box", tmp_path)
    assert str(caught.value) == f"{path}: arch: expected one of amd64, arm64; got 's390x'"


def test_a_kernel_of_the_other_arch_is_refused(tmp_path):
    path = definition(tmp_path, 'arch = "arm64"\nkernel = "linux-image-cloud-amd64"\n')
    with pytest.raises(DefinitionError) as caught:
        load_box("box", tmp_path)
    assert str(caught.value) == f"{path}: kernel: linux-image-cloud-amd64 is not a kernel for arch 'arm64'"


def vagrant_validate(tmp_path: Path, vagrantfile: str) -> subprocess.CompletedProcess[str]:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "Vagrantfile").write_text(
        vagrantfile.replace('Vagrant.configure("2") do |config|',
                            'Vagrant.configure("2") do |config|\n  config.vm.box = "boxwright/box"', 1))
    env = dict(os.environ, VAGRANT_HOME=str(tmp_path / "vagrant.d"), VAGRANT_DEFAULT_PROVIDER="libvirt",
               VAGRANT_CHECKPOINT_DISABLE="1", VAGRANT_NO_COLOR="1")
    return subprocess.run(["vagrant", "validate"], cwd=project, env=env, capture_output=True, text=True,
                          timeout=180)


def test_the_arm64_vagrantfile_carries_the_aarch64_domain_and_vagrant_libvirt_accepts_it(tmp_path):
    definition(tmp_path, 'arch = "arm64"\n')
    text = render_vagrantfile(load_box("box", tmp_path), "1.0.1")
    for setting in AARCH64_SETTINGS:
        assert setting in text
    done = vagrant_validate(tmp_path, text)
    assert done.returncode == 0, done.stdout + done.stderr
    # The check is real: vagrant-libvirt refuses an NVRAM file without a UEFI loader.
    no_loader = text.replace('    libvirt.loader = "/usr/share/AAVMF/AAVMF_CODE.fd"\n', "")
    assert no_loader != text
    broken = vagrant_validate(tmp_path, no_loader)
    assert broken.returncode != 0


def test_the_amd64_vagrantfile_has_none_of_it(tmp_path):
    definition(tmp_path, "")
    text = render_vagrantfile(load_box("box", tmp_path), "1.0.1")
    assert not [s for s in AARCH64_SETTINGS if s in text]


def test_debian_vagrant_adds_a_box_from_a_catalog_with_architecture(tmp_path):
    """Vagrant 2.4 reads ``architecture``; Debian's 2.3.4 must still accept the catalog."""
    image = tmp_path / "box.img"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "1G"], check=True)
    box = tmp_path / "archtest-0.1.2-libvirt-arm64.box"
    with tarfile.open(box, "w") as tar:
        for member, text in {"metadata.json": '{"provider": "libvirt", "format": "qcow2", "virtual_size": 1}',
                             "Vagrantfile": "Vagrant.configure('2') { |config| }\n"}.items():
            info = tarfile.TarInfo(member)
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text.encode()))
        tar.add(image, "box.img")
    catalog_file = tmp_path / "archtest.json"
    entry = provider_entry(box, sha256_file(box), architecture="arm64")
    write_catalog(catalog_file, add_version(read_catalog(catalog_file, "boxwright/archtest"), "0.1.2", entry))
    assert json.loads(catalog_file.read_text())["versions"][0]["providers"][0]["architecture"] == "arm64"
    env = dict(os.environ, VAGRANT_HOME=str(tmp_path / "vagrant.d"), VAGRANT_CHECKPOINT_DISABLE="1",
               VAGRANT_NO_COLOR="1")
    added = subprocess.run(["vagrant", "box", "add", catalog_file.as_uri()], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    assert added.returncode == 0, added.stdout + added.stderr
    listed = subprocess.run(["vagrant", "box", "list"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120).stdout
    assert "boxwright/archtest (libvirt, 0.1.2)" in listed
