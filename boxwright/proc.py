"""The one command runner: every program boxwright starts goes through here.

* :func:`run` runs an argv to the end and captures its output; :func:`stream` hands each line
  (or raw chunk) to a callback as it comes; :func:`spawn` starts a background server.
* A failure raises the caller's error class with the output's tail, formatted by :func:`tail`
  (``  | line``), the one way boxwright shows a command's output.
* A command that is not installed raises :class:`~boxwright.errors.ToolMissing` naming its
  Debian package (from ``hostparts.toml``).
* Every child runs in its own session; on Ctrl-C (or any exception while it runs) its whole
  process group gets SIGTERM, then SIGKILL after a grace period, so no helper outlives us.
* Dry run (:func:`dry_run`, what ``./kit --dry`` turns on): each command is logged as
  ``would run: ...`` and not started, and the call returns an empty, successful :class:`Result`.
  Only a ``probe=True`` command still runs: one that reads and changes nothing (``git rev-parse``),
  so the plan shows the real revision and commit time.
"""

from __future__ import annotations

import codecs
import contextlib
import contextvars
import logging
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from boxwright import hostparts
from boxwright.errors import BoxwrightError, BuildError, ToolMissing

__all__ = ["TAIL_LINES", "Result", "dry_run", "is_dry", "require", "run", "spawn", "stop", "stream", "tail"]

log = logging.getLogger(__name__)

#: How many lines of output a failure shows.
TAIL_LINES = 15
#: Seconds a process group gets between SIGTERM and SIGKILL.
GRACE = 10.0

_dry: contextvars.ContextVar[bool] = contextvars.ContextVar("boxwright_dry", default=False)


def is_dry() -> bool:
    """True inside :func:`dry_run`: commands are logged, not run."""
    return _dry.get()


@contextlib.contextmanager
def dry_run(enabled: bool = True) -> Iterator[None]:
    """Within the block, :func:`run`, :func:`stream` and :func:`spawn` only log what they would run."""
    token = _dry.set(enabled)
    try:
        yield
    finally:
        _dry.reset(token)


def tail(output: str | Sequence[str], lines: int = TAIL_LINES) -> str:
    """The last ``lines`` non-blank lines of ``output``, each as ``  | line``."""
    rows = output.splitlines() if isinstance(output, str) else list(output)
    return "\n".join(f"  | {row.rstrip()}" for row in [r for r in rows if r.strip()][-lines:])


@dataclass(frozen=True)
class Result:
    """How a command ended and what it printed (stderr is in ``output`` unless kept apart)."""

    argv: tuple[str, ...]
    code: int
    output: str = ""
    errors: str = ""
    timed_out: bool = False
    dry: bool = False

    @property
    def ok(self) -> bool:
        return self.code == 0 and not self.timed_out

    def describe(self) -> str:
        """``exit N`` / ``killed by SIGX`` / ``timed out``."""
        if self.timed_out:
            return "timed out"
        if self.code < 0:
            return f"killed by {signal.Signals(-self.code).name}"
        return f"exit {self.code}"

    def tail(self, lines: int = TAIL_LINES) -> str:
        return tail(self.errors + self.output if self.errors else self.output, lines)


def require(*tools: str) -> None:
    """Raise :class:`ToolMissing` for the first of ``tools`` not on PATH (nothing when dry)."""
    if is_dry():
        return
    for tool in tools:
        if shutil.which(tool) is None:
            raise ToolMissing(tool, hostparts.package_for(tool))


def run(
    argv: Sequence[str],
    *,
    what: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    input: str | None = None,
    timeout: float | None = None,
    check: bool = True,
    merge: bool = False,
    error: type[BoxwrightError] = BuildError,
    probe: bool = False,
) -> Result:
    """Run ``argv`` to the end, capturing stdout and stderr (into one when ``merge``).

    ``env`` is added to the environment.  With ``check``, a non-zero exit raises ``error``
    naming ``what`` (default: the program) and the output's tail; a ``timeout`` kills the
    process group and returns a ``timed_out`` result.
    """
    argv = [str(a) for a in argv]
    if _planned(argv, env, input, probe):
        return Result(tuple(argv), 0, dry=True)
    process = _start(argv, env, cwd, stdin=input is not None,
                     stderr=subprocess.STDOUT if merge else subprocess.PIPE)
    timed_out = False
    with _group_killed_on_error(process):
        try:
            out, err = process.communicate(input.encode() if input is not None else None, timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process)
            out, err = process.communicate()
    result = Result(tuple(argv), process.returncode, _decode(out), _decode(err), timed_out)
    if check and not result.ok:
        raise error(f"{what or argv[0]} failed ({result.describe()}):\n{result.tail()}")
    return result


def stream(
    argv: Sequence[str],
    *,
    on_line: Callable[[str], None] | None = None,
    on_chunk: Callable[[str], None] | None = None,
    what: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    input: str | None = None,
    check: bool = True,
    error: type[BoxwrightError] = BuildError,
) -> Result:
    """Run ``argv`` with stdout and stderr merged, calling ``on_line`` for each line as it comes.

    ``on_chunk`` gets the raw text as it is read instead (progress dots show up at once);
    the whole output is also in the result.  ``check`` and ``error`` are as in :func:`run`.
    """
    argv = [str(a) for a in argv]
    if _planned(argv, env, input):
        return Result(tuple(argv), 0, dry=True)
    process = _start(argv, env, cwd, stdin=input is not None, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    chunks: list[str] = []
    partial = ""
    with _group_killed_on_error(process):
        if input is not None:
            assert process.stdin is not None
            process.stdin.write(input.encode())
            process.stdin.close()
        while True:
            data = os.read(process.stdout.fileno(), 65536)
            text = decoder.decode(data, final=not data)
            if text:
                chunks.append(text)
                if on_chunk is not None:
                    on_chunk(text)
                if on_line is not None:
                    *lines, partial = (partial + text).split("\n")
                    for line in lines:
                        on_line(line.rstrip("\r"))
            if not data:
                break
        if on_line is not None and partial:
            on_line(partial)
        process.stdout.close()
        code = process.wait()
    result = Result(tuple(argv), code, "".join(chunks))
    if check and not result.ok:
        raise error(f"{what or argv[0]} failed ({result.describe()}):\n{result.tail()}")
    return result


def spawn(
    argv: Sequence[str], *, log_file: Path, env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes] | None:
    """Start a background server writing to ``log_file``; stop it with :func:`stop` (None when dry)."""
    argv = [str(a) for a in argv]
    if _planned(argv, env, None):
        return None
    with log_file.open("ab") as out:
        return _start(argv, env, cwd, stdin=False, stdout=out, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes] | None, grace: float = GRACE) -> None:
    """Stop a process started here and its group: SIGTERM, then SIGKILL after ``grace`` seconds."""
    if process is not None and process.poll() is None:
        _kill_group(process, grace)


def _planned(argv: list[str], env: Mapping[str, str] | None, input: str | None,
             probe: bool = False) -> bool:
    """Log the command; True when dry (then it must not run)."""
    shown = shlex.join([*(f"{k}={v}" for k, v in (env or {}).items()), *argv])
    if input is not None:
        shown += f"  (script of {len(input.splitlines())} lines on stdin)"
    if is_dry() and not probe:
        log.info("would run: %s", shown)
        return True
    log.debug("run: %s", shown)
    return False


def _start(
    argv: list[str], env: Mapping[str, str] | None, cwd: Path | None, *, stdin: bool,
    stderr: int, stdout: int | IO[bytes] = subprocess.PIPE,
) -> subprocess.Popen[bytes]:
    if os.sep not in argv[0] and shutil.which(argv[0]) is None:
        raise ToolMissing(argv[0], hostparts.package_for(argv[0]))
    try:
        return subprocess.Popen(
            argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, stdout=stdout, stderr=stderr,
            env=dict(os.environ, **env) if env else None, cwd=cwd, start_new_session=True,
        )
    except FileNotFoundError:
        raise ToolMissing(argv[0], hostparts.package_for(Path(argv[0]).name)) from None


@contextlib.contextmanager
def _group_killed_on_error(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """Ctrl-C or any error while ``process`` runs: stop its whole group, then re-raise."""
    try:
        yield
    except BaseException:
        _kill_group(process)
        raise


def _kill_group(process: subprocess.Popen[bytes], grace: float = GRACE) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    # The leader is gone; helpers it left in the group get the same treatment.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _decode(data: bytes | None) -> str:
    return data.decode(errors="replace") if data else ""
