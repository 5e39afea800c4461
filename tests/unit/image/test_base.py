"""The hermetic base is named by the hash of its inputs, and built by a visible command."""

from __future__ import annotations

from pathlib import Path

from boxwright.image.base import base_image, mmdebstrap_argv
from boxwright.image.definition import Bootstrap


def test_same_inputs_same_name():
    assert base_image(Bootstrap(suite="trixie")) == base_image(Bootstrap(suite="trixie"))


def test_every_input_changes_the_hash():
    reference = base_image(Bootstrap(suite="trixie")).digest
    variants = [
        Bootstrap(suite="bookworm"),
        Bootstrap(suite="trixie", mirror="http://example.invalid/debian"),
        Bootstrap(suite="trixie", variant="apt"),
        Bootstrap(suite="trixie", packages=("ca-certificates",)),
    ]
    digests = {base_image(b).digest for b in variants}
    assert reference not in digests and len(digests) == len(variants)


def test_source_date_epoch_is_an_input(monkeypatch):
    before = base_image(Bootstrap(suite="trixie")).digest
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert base_image(Bootstrap(suite="trixie")).digest != before


def test_tags():
    base = base_image(Bootstrap(suite="trixie"))
    arch = base.platform.debian
    assert base.tag == f"boxwright/debian:trixie-{arch}-{base.digest[:12]}"
    assert base.suite_tag == f"boxwright/debian:trixie-{arch}"


def test_mmdebstrap_command_is_slim_and_complete():
    argv = mmdebstrap_argv(Bootstrap(suite="trixie", packages=("b", "a")), Path("/out.tar"))
    assert argv[0] == "mmdebstrap"
    assert "--variant=minbase" in argv and "--format=tar" in argv
    assert "--include=a,b" in argv
    assert any(a.startswith("--dpkgopt=") and a.endswith("dpkg-slim.cfg") for a in argv)
    assert any(a.startswith("--aptopt=") and a.endswith("apt-container.conf") for a in argv)
    assert any("slimify.sh" in a for a in argv if a.startswith("--customize-hook="))
    assert argv[-3:] == ["trixie", "/out.tar", "http://deb.debian.org/debian"]
