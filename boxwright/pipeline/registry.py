"""A local distribution registry (Debian's ``docker-registry``), for ``./kit registry`` and the tests.

Tests start one on 127.0.0.1 on a free port; ``./kit registry`` starts one by
hand.  dockerd talks plain HTTP to registries in 127.0.0.0/8 (its default
``insecure-registries``), so no TLS set-up is needed for a loopback registry.
"""

from __future__ import annotations

import json
import logging
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from boxwright import paths
from boxwright.errors import EngineError
from boxwright.net import free_port
from boxwright.proc import is_dry, require, spawn, stop, tail

if TYPE_CHECKING:
    import subprocess

__all__ = ["LocalRegistry", "free_port", "htpasswd_line", "registry_config", "serve"]

log = logging.getLogger(__name__)
REGISTRY_BINARY = "docker-registry"


def htpasswd_line(user: str, password: str) -> str:
    """An htpasswd entry in the only format the registry accepts (bcrypt)."""
    import bcrypt

    return f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=6)).decode()}\n"


def registry_config(
    address: str, storage: Path, htpasswd: Path | None = None, *, read_only: bool = False,
) -> dict[str, Any]:
    """The registry's configuration (written as JSON, which its YAML parser reads).

    ``read_only`` is the registry's maintenance mode: pulls work, every push is refused."""
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True},
                    "maintenance": {"readonly": {"enabled": read_only}}},
        "http": {"addr": address, "secret": "boxwright-local-registry"},
    }
    if htpasswd is not None:
        config["auth"] = {"htpasswd": {"realm": "boxwright", "path": str(htpasswd)}}
    return config


@dataclass
class LocalRegistry:
    """A ``docker-registry serve`` process with its storage under ``root``.

    >>> with LocalRegistry(tmp_path) as registry:
    ...     registry.address  # '127.0.0.1:40123'
    """

    root: Path
    host: str = "127.0.0.1"
    port: int = 0
    users: Mapping[str, str] = field(default_factory=dict)
    read_only: bool = False
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log(self) -> Path:
        return self.root / "registry.log"

    def argv(self) -> list[str]:
        return [REGISTRY_BINARY, "serve", str(self.root / "config.yml")]

    def start(self, timeout: float = 20.0) -> LocalRegistry:
        """Write the config, start the registry, wait until ``/v2/`` answers (under --dry: log it)."""
        require(REGISTRY_BINARY)
        if is_dry():
            self.port = self.port or 5000
            log.info("would write %s (storage %s) and serve on %s", self.root / "config.yml",
                     self.root / "data", self.address)
            spawn(self.argv(), log_file=self.log)
            return self
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port(self.host)
        htpasswd = None
        if self.users:
            htpasswd = self.root / "htpasswd"
            htpasswd.write_text("".join(htpasswd_line(u, p) for u, p in self.users.items()))
        config = registry_config(self.address, self.root / "data", htpasswd, read_only=self.read_only)
        (self.root / "config.yml").write_text(json.dumps(config, indent=2) + "\n")
        self.process = spawn(self.argv(), log_file=self.log)
        assert self.process is not None
        if self._up(timeout):
            return self
        self.stop()
        output = tail(self.log.read_text(errors="replace"), 5)
        raise EngineError(f"docker-registry did not come up on {self.address}:\n{output}")

    def _up(self, timeout: float) -> bool:
        """Wait until ``/v2/`` answers; stop the registry if anything (Ctrl-C too) interrupts the wait."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline and self.process.poll() is None:
                if _answers(f"http://{self.address}/v2/"):
                    return True
                time.sleep(0.1)
        except BaseException:
            self.stop()
            raise
        return False

    def stop(self) -> None:
        """Stop the registry (SIGTERM, then SIGKILL after 10 s)."""
        stop(self.process)

    def __enter__(self) -> LocalRegistry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Start, say where, then wait until the registry exits, Ctrl-C or SIGTERM (which stop it).

        The registry runs in its own session (the runner's rule), so whenever this returns or
        raises -- even on a Ctrl-C that lands while it is still starting -- it is stopped here.
        """
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            self.start()
            if self.process is None:  # dry run
                return
            log.info("registry on %s (storage %s, log %s); Ctrl-C stops it", self.address,
                     self.root / "data", self.log)
            self.process.wait()
        finally:
            self.stop()
            signal.signal(signal.SIGTERM, previous)


def serve(port: int = 5000, root: str | Path = "") -> None:
    """``./kit registry``: serve on 127.0.0.1:``port`` from ``root`` (default: build/registry)."""
    LocalRegistry(Path(root).resolve() if root else paths.build_dir() / "registry", port=port).serve_forever()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _answers(url: str) -> bool:
    """Whether an HTTP server answers ``url`` at all (401 and 404 are answers)."""
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
