"""Checks for runit services in running containers, shared by the service tests.

``RunitService`` reads ``sv status`` the way testinfra's ``Supervisor`` reads supervisorctl.
"""

from __future__ import annotations

import re
import time
from typing import Any

__all__ = ["RunitService", "logs", "wait_for_log"]


def logs(container: Any) -> str:
    return container.logs(stdout=True, stderr=True).decode("utf-8", "replace")


def wait_for_log(container: Any, text: str, timeout: float = 60, count: int = 1) -> str:
    """Wait until ``text`` shows ``count`` times in the container's logs; return the logs."""
    deadline = time.monotonic() + timeout
    while True:
        output = logs(container)
        if output.count(text) >= count:
            return output
        container.reload()
        if time.monotonic() > deadline or container.status == "exited":
            raise AssertionError(f"{text!r} not in the logs ({count}x) of {container.name}:\n{output}")
        time.sleep(0.2)


class RunitService:
    """A runit service in a running container.

    >>> cron = RunitService(host, "/etc/service/cron")
    >>> cron.is_running, cron.pid
    (True, 17)
    """

    STATUS = ("run", "down", "finish", "fail", "warning")
    _STATUS = re.compile(r"^(?P<status>\w+): (?P<path>[^:]+): (?:\(pid (?P<pid>\d+)\) )?(?P<secs>\d+)s")

    def __init__(self, host: Any, path: str):
        self.host = host
        self.path = path

    @staticmethod
    def _parse_status(line: str) -> tuple[str, int | None]:
        """``run: /etc/service/cron: (pid 17) 10s; run: log: ...`` → ``("run", 17)``."""
        match = RunitService._STATUS.match(line)
        if match is None or match["status"] not in RunitService.STATUS:
            raise RuntimeError(f"unexpected sv status output: {line!r}. Is runsv running ?")
        return match["status"], int(match["pid"]) if match["pid"] else None

    @property
    def status(self) -> str:
        return self._parse_status(self.host.check_output("sv status %s", self.path))[0]

    @property
    def pid(self) -> int | None:
        return self._parse_status(self.host.check_output("sv status %s", self.path))[1]

    @property
    def command(self) -> str:
        """The daemon's name (``/proc/PID/comm``): the run script must exec it."""
        return self.host.file(f"/proc/{self.pid}/comm").content_string.strip()

    @property
    def is_running(self) -> bool:
        return self.status == "run"

    def kill(self) -> int:
        """SIGKILL the daemon; returns the pid it had."""
        pid = self.pid
        assert pid is not None, f"{self.path} is not running"
        self.host.run_expect([0], "kill -KILL %s", str(pid))
        return pid

    def wait_running(self, other_than: int | None = None, timeout: float = 10) -> int:
        """Wait until the service runs (with a pid other than ``other_than``); return the pid."""
        deadline = time.monotonic() + timeout
        while True:
            status, pid = self._parse_status(self.host.check_output("sv status %s", self.path))
            if status == "run" and pid != other_than:
                return pid  # type: ignore[return-value]
            assert time.monotonic() < deadline, f"{self.path} not running again: {status}"
            time.sleep(0.1)
