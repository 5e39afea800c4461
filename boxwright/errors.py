"""One hierarchy for every failure a user can cause or meet.

Tasks catch :class:`BoxwrightError` in one place and turn it into a one-line
message and a non-zero exit; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = [
    "BoxwrightError",
    "BuildError",
    "DefinitionError",
    "EngineError",
    "PublishError",
    "RenderError",
    "ToolMissing",
]


class BoxwrightError(Exception):
    """Base class: ``str(error)`` is the one line shown to the user."""


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
    """A registry refused a push or could not be reached."""
