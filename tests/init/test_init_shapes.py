"""my_init's pieces for the non-root and read-only shapes (README.md, "Running it"): `needs`
files, the shadow service tree, the runtime directory. The shapes themselves run in
tests/image/test_shapes.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "images" / "baseimage" / "services"
ALL = (1 << 41) - 1


def needs(tmp_path: Path, text: str) -> str:
    (tmp_path / "needs").write_text(text)
    return str(tmp_path)


@pytest.mark.parametrize(
    ("text", "caps", "missing"),
    [
        ("root CAP_SETUID CAP_SETGID\n", 0, ["CAP_SETUID", "CAP_SETGID"]),  # uid 0, --cap-drop ALL
        ("root CAP_SETUID CAP_SETGID\n", ALL, []),
        ("# a comment CAP_CHOWN\nCAP_NET_BIND_SERVICE # port 22\n", 1 << 10, []),
        ("CAP_NET_BIND_SERVICE\n", 1 << 7, ["CAP_NET_BIND_SERVICE"]),
    ],
)
def test_missing_needs(my_init, tmp_path, text, caps, missing):
    assert os.geteuid() == 0  # the host suite runs as root: `root` is always met here
    assert my_init.missing_needs(needs(tmp_path, text), caps) == missing


def test_no_needs_file_needs_nothing(my_init, tmp_path):
    assert my_init.missing_needs(str(tmp_path), 0) == []


@pytest.mark.parametrize("path", sorted(SERVICES.glob("*/etc/*service/*/needs")), ids=lambda p: p.parts[-2])
def test_bundled_needs_files_name_known_requirements(my_init, path):
    words = [w for line in path.read_text().splitlines() for w in line.partition("#")[0].split()]
    assert words and all(w == "root" or w in my_init.CAPABILITIES for w in words), words


def test_every_bundled_daemon_says_what_it_needs():
    runs = sorted(SERVICES.glob("*/etc/*service/*/run"))
    assert runs and all((run.parent / "needs").is_file() for run in runs), runs


def test_shadow_tree_links_every_file_but_supervise(my_init, tmp_path):
    source = tmp_path / "service"
    for path in ("app/run", "app/down", "app/log/run", "app/supervise/status", "app/log/supervise/ok"):
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        (source / path).write_text("x")
    shadow = tmp_path / "run" / "service"
    shadow.parent.mkdir()
    (shadow / "stale" / "supervise").mkdir(parents=True)  # a previous boot's: replaced
    my_init.shadow_services(str(source), str(shadow))
    assert sorted(p.name for p in shadow.iterdir()) == ["app"]
    assert sorted(p.name for p in (shadow / "app").iterdir()) == ["down", "log", "run"]
    assert os.readlink(shadow / "app" / "run") == f"{source}/app/run"
    assert not (shadow / "app" / "log").is_symlink()
    assert sorted(p.name for p in (shadow / "app" / "log").iterdir()) == ["run"]


def test_runtime_dir_falls_back_to_tmp(my_init, tmp_path):
    (tmp_path / "run").write_text("not a directory")  # /run unusable
    (tmp_path / "tmp").mkdir()
    paths, problem = my_init.locate_paths(str(tmp_path))
    assert problem is None
    assert paths.run_dir == f"{tmp_path}/tmp/my_init-0"
    assert paths.env_dir == f"{tmp_path}/etc/container_environment"  # root, /etc writable


def test_a_runtime_dir_of_someone_else_is_refused(my_init, tmp_path):
    for candidate in ("run/my_init", "tmp/my_init-0"):
        (tmp_path / candidate).mkdir(parents=True)
        os.chown(tmp_path / candidate, 1000, 1000)
    _, problem = my_init.locate_paths(str(tmp_path))
    assert problem is not None and "is not a directory of this user" in problem
