"""The one tar helper: files for ``put_archive`` and build contexts, written in memory."""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["FileSpec", "read_file", "tar_of"]

#: ``text`` (mode 0644), ``(text or bytes, mode)``, or ``"=target"`` for a hard link to ``target``.
FileSpec = str | bytes | tuple[str | bytes, int]


def tar_of(files: Mapping[str, FileSpec], *, mtime: float | None = None) -> bytes:
    """A tar archive of ``{path: spec}`` (paths relative to the extraction point, any leading / dropped).

    ``mtime`` defaults to a minute ago: runsvdir and cron look again at what changed within the last second.
    """
    stamp = int(time.time() - 60 if mtime is None else mtime)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, spec in files.items():
            info = tarfile.TarInfo(path.lstrip("/"))
            info.mtime = stamp
            if isinstance(spec, str) and spec.startswith("="):
                info.type, info.linkname = tarfile.LNKTYPE, spec[1:].lstrip("/")
                tar.addfile(info)
                continue
            content, mode = spec if isinstance(spec, tuple) else (spec, 0o644)
            data = content.encode() if isinstance(content, str) else content
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def read_file(container: Any, path: str) -> str:
    """A file's text from a container, running or stopped (``docker cp``)."""
    stream, _ = container.get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.extractfile(tar.getmembers()[0])
        assert member is not None, f"{path} is not a regular file"
        return member.read().decode("utf-8", "replace")
