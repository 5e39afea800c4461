"""python-vagrant, made loud: every failure is an exception carrying Vagrant's own output.

python-vagrant swallows output by default and some calls (``ssh_config``,
``status``) fail with a bare CalledProcessError or not at all.  Here each
command logs to a file, and a failure raises :class:`VagrantError` with the
command and the tail of that log.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import vagrant

from boxwright.errors import VagrantError
from boxwright.proc import require, tail

__all__ = ["Vagrant", "VagrantError"]

T = TypeVar("T")
log = logging.getLogger(__name__)


class Vagrant:
    """One Vagrant environment (a directory with a Vagrantfile), driven through python-vagrant."""

    def __init__(self, root: Path, env: dict[str, str] | None = None) -> None:
        require("vagrant")
        self.root = root
        self.log = root / "vagrant.log"
        full_env = dict(os.environ, VAGRANT_NO_COLOR="1", VAGRANT_DEFAULT_PROVIDER="libvirt")
        full_env.update(env or {})
        self._vagrant = vagrant.Vagrant(
            root=str(root),
            env=full_env,
            out_cm=vagrant.make_file_cm(str(self.log)),
            err_cm=vagrant.make_file_cm(str(self.log)),
        )

    def _call(self, what: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        offset = self.log.stat().st_size if self.log.exists() else 0
        started = time.monotonic()
        log.info("vagrant %s ...", what)
        try:
            result = function(*args, **kwargs)
        except subprocess.CalledProcessError as error:
            raise VagrantError(
                f"vagrant {what} failed (exit {error.returncode}):\n{self.output_since(offset)}"
            ) from None
        log.info("vagrant %s: done in %.1f s", what, time.monotonic() - started)
        return result

    def output_since(self, offset: int = 0, lines: int = 30) -> str:
        """The last ``lines`` lines Vagrant wrote to the log after ``offset``."""
        if not self.log.exists():
            return "(no output)"
        with self.log.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace")
        return tail(text, lines) or "(no output)"

    def box_add(self, catalog: Path, provider: str = "libvirt") -> None:
        """``vagrant box add <catalog.json>`` (name and version come from the catalog).

        ``--provider``: a catalog listing several providers makes Vagrant ask which one."""
        self._call("box add", self._vagrant._call_vagrant_command,
                   ["box", "add", "--force", "--provider", provider, str(catalog)])

    def box_remove(self, name: str, version: str) -> None:
        self._call(
            "box remove", self._vagrant._call_vagrant_command,
            ["box", "remove", "--force", "--box-version", version, name],
        )

    def up(self, machine: str | None = None) -> None:
        self._call(f"up {machine or ''}".strip(), self._vagrant.up, vm_name=machine, provider="libvirt")

    def reload(self, machine: str | None = None) -> None:
        self._call(f"reload {machine or ''}".strip(), self._vagrant.reload, vm_name=machine)

    def destroy(self) -> None:
        self._call("destroy", self._vagrant.destroy)

    def ssh_config(self, machine: str | None = None) -> str:
        """The ssh-config Vagrant prints; an error (or empty output) raises."""
        text: str = self._call("ssh-config", self._vagrant.ssh_config, vm_name=machine)
        if "HostName" not in text:
            raise VagrantError(f"vagrant ssh-config printed no host:\n{text or '(nothing)'}")
        return text

    def status(self) -> dict[str, str]:
        """Machine name → state; raises when Vagrant can't tell."""
        statuses = self._call("status", self._vagrant.status)
        if not statuses:
            raise VagrantError(f"vagrant status reported no machine:\n{self.output_since()}")
        return {s.name: s.state for s in statuses}
