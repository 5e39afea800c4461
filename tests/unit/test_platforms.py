"""Architectures: one name table, platforms in definitions, per-arch bases and tags, binfmt set-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from boxwright.emulation import BINFMT_DIR, ensure_emulation, handler_flags
from boxwright.errors import BuildError, DefinitionError, EmulationUnavailable, UsageError
from boxwright.image.base import base_image, image_config, mmdebstrap_argv
from boxwright.image.build import arch_tag, build_all, render_image
from boxwright.image.definition import Bootstrap, load_image
from boxwright.platforms import PLATFORMS, host_platform, platform

PROJECT_IMAGES = Path(__file__).parents[2] / "images"
ARM64 = PLATFORMS["linux/arm64"]
AMD64 = PLATFORMS["linux/amd64"]


def write_definition(root: Path, text: str) -> Path:
    (root / "multi").mkdir(parents=True, exist_ok=True)
    path = root / "multi" / "image.toml"
    path.write_text('version = "1.0.0"\nbootstrap = { suite = "trixie" }\n' + text)
    return path


def test_names_of_one_architecture_agree():
    names = (ARM64.debian, ARM64.machine, ARM64.architecture, ARM64.os)
    assert names == ("arm64", "aarch64", "arm64", "linux")
    assert (AMD64.debian, AMD64.machine, AMD64.qemu) == ("amd64", "x86_64", "qemu-x86_64")
    assert ARM64.qemu == "qemu-aarch64"
    assert host_platform().is_host


def test_unknown_platform_is_one_line_naming_the_accepted_ones():
    with pytest.raises(UsageError) as caught:
        platform("linux/s390x")
    assert str(caught.value) == "unknown platform 'linux/s390x': expected one of linux/amd64, linux/arm64"


def test_unknown_platform_in_a_definition_names_file_key_and_accepted_values(tmp_path):
    path = write_definition(tmp_path, 'platforms = ["linux/amd64", "linux/riscv64"]\n')
    with pytest.raises(DefinitionError) as caught:
        load_image("multi", tmp_path)
    message = str(caught.value)
    assert message == (f"{path}: platforms: unknown platform 'linux/riscv64'; "
                       "accepted: linux/amd64, linux/arm64")
    assert "\n" not in message


@pytest.mark.parametrize(("text", "problem"), [
    ("platforms = []\n", "expected at least one of linux/amd64, linux/arm64"),
    ('platforms = ["linux/arm64", "linux/arm64"]\n', "a platform is listed twice"),
    ('platforms = "linux/arm64"\n', "expected a list of strings; got a string"),
])
def test_bad_platform_lists(tmp_path, text, problem):
    path = write_definition(tmp_path, text)
    with pytest.raises(DefinitionError) as caught:
        load_image("multi", tmp_path)
    assert str(caught.value) == f"{path}: platforms: {problem}"


def test_default_is_the_host_only_and_the_shipped_images_list_both(tmp_path):
    write_definition(tmp_path, "")
    assert load_image("multi", tmp_path).platforms == (host_platform().name,)
    for name in ("baseimage", "baseimage-bookworm"):  # the variant inherits them through extends
        assert set(load_image(name, PROJECT_IMAGES).platforms) == {"linux/amd64", "linux/arm64"}


def test_targets_put_the_host_first(tmp_path):
    write_definition(tmp_path, 'platforms = ["linux/arm64", "linux/amd64"]\n')
    targets = load_image("multi", tmp_path).targets
    assert targets[0] == host_platform() and len(targets) == 2


def test_a_platform_the_definition_does_not_list_is_refused_before_any_work(tmp_path):
    path = write_definition(tmp_path, 'platforms = ["linux/amd64"]\n')
    with pytest.raises(BuildError) as caught:
        build_all("multi", platforms=["linux/arm64"], images_dir=tmp_path)
    assert str(caught.value) == f"{path}: platforms: linux/arm64 is not listed (listed: linux/amd64)"


def test_the_arch_is_an_input_of_the_base_and_part_of_its_tag():
    trixie = Bootstrap(suite="trixie")
    arm, amd = base_image(trixie, platform=ARM64), base_image(trixie, platform=AMD64)
    assert arm.digest != amd.digest
    assert arm.tag == f"boxwright/debian:trixie-arm64-{arm.digest[:12]}"
    assert amd.suite_tag == "boxwright/debian:trixie-amd64"
    assert base_image(trixie) == base_image(trixie, platform=host_platform())


def test_mmdebstrap_bootstraps_the_platforms_architecture():
    assert "--arch=arm64" in mmdebstrap_argv(Bootstrap(suite="trixie"), Path("/o.tar"), platform=ARM64)
    assert "--arch=amd64" in mmdebstrap_argv(Bootstrap(suite="trixie"), Path("/o.tar"), platform=AMD64)


def test_the_loaded_config_names_the_architecture():
    config = image_config(ARM64, "sha256:" + "0" * 64, {"a": "b"}, 0)
    assert (config["architecture"], config["os"]) == ("arm64", "linux")
    assert config["rootfs"] == {"type": "layers", "diff_ids": ["sha256:" + "0" * 64]}
    assert config["created"] == "1970-01-01T00:00:00Z"


def test_each_platform_renders_its_own_base(tmp_path):
    definition = load_image("baseimage", PROJECT_IMAGES)
    arm = (render_image(definition, tmp_path / "arm", platform=ARM64) / "Dockerfile").read_text()
    amd = (render_image(definition, tmp_path / "amd", platform=AMD64) / "Dockerfile").read_text()
    assert "FROM boxwright/debian:trixie-arm64-" in arm
    assert "FROM boxwright/debian:trixie-amd64-" in amd
    assert arch_tag("0.1.0", ARM64) == "0.1.0-arm64"


def fake_binfmt(tmp_path: Path, entry: str | None) -> tuple[Path, Path]:
    binfmt, conf = tmp_path / "binfmt_misc", tmp_path / "binfmt.d"
    binfmt.mkdir()
    conf.mkdir()
    (binfmt / "register").write_text("")
    if entry is not None:
        (binfmt / "qemu-aarch64").write_text(entry)
    return binfmt, conf


def test_a_registered_handler_with_f_is_used_as_it_is(tmp_path):
    binfmt, conf = fake_binfmt(tmp_path, "enabled\ninterpreter /x\nflags: POF\noffset 0\n")
    ensure_emulation(ARM64, binfmt_dir=binfmt, binfmt_d=conf)
    assert (binfmt / "register").read_text() == ""  # nothing re-registered


def test_a_handler_without_f_is_one_line(tmp_path):
    binfmt, conf = fake_binfmt(tmp_path, "enabled\ninterpreter /x\nflags: P\n")
    with pytest.raises(EmulationUnavailable) as caught:
        ensure_emulation(ARM64, binfmt_dir=binfmt, binfmt_d=conf)
    assert str(caught.value).startswith("cannot emulate linux/arm64 on this host: ")
    assert "without the F flag" in str(caught.value)


def test_no_qemu_user_static_says_which_package(tmp_path):
    binfmt, conf = fake_binfmt(tmp_path, None)
    with pytest.raises(EmulationUnavailable) as caught:
        ensure_emulation(ARM64, binfmt_dir=binfmt, binfmt_d=conf)
    assert str(caught.value) == (f"cannot emulate linux/arm64 on this host: no {conf}/qemu-aarch64.conf: "
                                 "install the Debian package 'qemu-user-static'")


def test_only_the_aarch64_handler_is_registered(tmp_path):
    binfmt, conf = fake_binfmt(tmp_path, None)
    line = ":qemu-aarch64:M::\\x7fELF:\\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OPF"
    (conf / "qemu-aarch64.conf").write_text(f"# a comment\n{line}\n")
    (conf / "qemu-riscv64.conf").write_text(":qemu-riscv64:M::x:y:/z:OPF\n")
    ensure_emulation(ARM64, binfmt_dir=binfmt, binfmt_d=conf)
    assert (binfmt / "register").read_text() == line + "\n"


def test_the_host_platform_needs_no_emulation(tmp_path):
    ensure_emulation(host_platform(), binfmt_dir=tmp_path / "absent", binfmt_d=tmp_path / "absent")


def test_the_real_host_runs_arm64_with_the_f_flag():
    """The real thing: after ensure_emulation the kernel has qemu-aarch64, flags with F."""
    ensure_emulation(ARM64)
    flags = handler_flags(BINFMT_DIR / "qemu-aarch64")
    assert flags is not None and "F" in flags
