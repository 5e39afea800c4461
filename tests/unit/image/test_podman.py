"""The containers.conf every podman call of boxwright reads (boxwright/image/podman.py)."""

from __future__ import annotations

import tomllib

from boxwright.image.podman import CONFIG, podman_config


def test_config_picks_runc_and_limits_any_host_grants(tmp_path):
    path = podman_config(tmp_path)
    config = tomllib.loads(path.read_text())
    assert path.read_text() == CONFIG
    assert config["engine"]["runtime"] == "runc"
    limits = dict(entry.split("=") for entry in config["containers"]["default_ulimits"])
    assert set(limits) == {"nofile", "nproc"}
    for value in limits.values():
        soft, hard = (int(n) for n in value.split(":"))
        assert soft == hard <= 4096
