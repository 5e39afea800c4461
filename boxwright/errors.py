"""One hierarchy for every failure a user can cause or meet.

Tasks catch :class:`BoxwrightError` in one place and turn it into a one-line
message and a non-zero exit; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = [
    "BenchError",
    "BoxwrightError",
    "BuildError",
    "CatalogError",
    "CleanupError",
    "DefinitionError",
    "EmulationUnavailable",
    "EngineError",
    "PublishError",
    "RenderError",
    "ToolMissing",
    "UsageError",
    "VagrantError",
]


class BoxwrightError(Exception):
    """Base class: ``str(error)`` is the one line shown to the user.  Never raised itself."""


class UsageError(BoxwrightError):
    """A task was given an argument or environment setting it cannot use."""


class DefinitionError(BoxwrightError):
    """An ``image.toml`` or ``box.toml`` is malformed; names the file and the key."""

    def __init__(self, path: object, key: str | None, problem: str) -> None:
        self.path, self.key, self.problem = str(path), key, problem
        where = f"{self.path}: {key}: " if key else f"{self.path}: "
        super().__init__(where + problem)


class RenderError(BoxwrightError):
    """A template failed to render; names the template and the line."""


class EngineError(BoxwrightError):
    """The Docker engine (or another daemon) is missing or refused a request."""


class ToolMissing(BoxwrightError):
    """A host program is missing; the message says which package provides it."""

    def __init__(self, tool: str, package: str) -> None:
        super().__init__(f"'{tool}' not found: install the Debian package '{package}'")


class BuildError(BoxwrightError):
    """A build step failed; the message says which step and why."""


class PublishError(BoxwrightError):
    """A registry refused a push or could not be reached; ``transient`` when another try may work.

    Whoever raises it classifies the failure from what the engine or registry said (a status,
    an error code, a transport error), never from the sentence shown to the user."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class VagrantError(BoxwrightError):
    """A vagrant command failed; the message holds its output's tail."""


class CleanupError(BoxwrightError):
    """Something a task started (a VM, a volume, a server) could not be removed."""


class CatalogError(BoxwrightError):
    """A Vagrant box catalog is missing or malformed."""


class BenchError(BoxwrightError):
    """A benchmarked variant crashed (not: was slow)."""


class EmulationUnavailable(BoxwrightError):
    """A foreign platform's binaries cannot run here (no binfmt_misc handler can be set up)."""

    def __init__(self, platform: object, problem: str) -> None:
        self.platform = platform
        name = getattr(platform, "name", platform)
        super().__init__(f"cannot emulate {name} on this host: {problem}")
