"""The local registry's configuration."""

from __future__ import annotations

from pathlib import Path

from boxwright.pipeline.registry import registry_config


def test_registry_config_with_and_without_auth(tmp_path):
    plain = registry_config("127.0.0.1:5000", tmp_path / "data")
    assert plain["http"]["addr"] == "127.0.0.1:5000"
    assert "auth" not in plain
    auth = registry_config("127.0.0.1:5000", tmp_path / "data", tmp_path / "htpasswd")
    assert auth["auth"]["htpasswd"]["path"] == str(tmp_path / "htpasswd")


def test_read_only_registry_config():
    plain = registry_config("127.0.0.1:5000", Path("/d"))
    assert plain["storage"]["maintenance"]["readonly"] == {"enabled": False}
    config = registry_config("127.0.0.1:5000", Path("/d"), read_only=True)
    assert config["storage"]["maintenance"]["readonly"] == {"enabled": True}
