"""Loopback networking the tasks share: a free port for a server or a forwarded guest port."""

from __future__ import annotations

import contextlib
import socket

__all__ = ["free_port", "ssh_banner"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ssh_banner(port: int, host: str = "127.0.0.1") -> str:
    """What an SSH server on ``port`` says first (``SSH-2.0-...``), or '' when none answers yet."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=5) as sock:
        return sock.recv(64).decode(errors="replace")
    return ""
