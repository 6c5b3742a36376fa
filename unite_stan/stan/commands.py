"""Build commands (compilers, ``make``) run so that they end with the process that started them.

A compile takes 20-60 s on two cores. Before this module, interrupting it (Jupyter's interrupt,
SIGTERM from a batch scheduler, SIGKILL) left ``g++`` and its ``cc1plus`` running for up to a
minute, and the last two left the temporary build directory behind. Now each command runs under
a small guardian process (``_guardian.py``) in a process group of its own:

* an exception in the waiting thread (``KeyboardInterrupt`` included) or a set ``cancel`` event
  ends every group at once (SIGTERM, then SIGKILL for what remains), and the cache
  (:func:`~unite_stan.stan.cache.build_entry`) removes the build directory;
* if this process dies without running any Python (SIGTERM's default action, SIGKILL), the
  guardians notice, kill their groups and remove the build directory themselves.

The commands' temporary files go into the build directory (``TMPDIR``), so nothing is left in
``/tmp`` either. Both backends build through :func:`run_commands`.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["CommandsCancelled", "run_commands"]

_GUARDIAN = str(Path(__file__).resolve().parent / "_guardian.py")
_POLL_SECONDS = 0.1
_GRACE_SECONDS = 10.0


class CommandsCancelled(Exception):
    """The commands were stopped because their ``cancel`` event was set (not a failure)."""


def run_commands(
    commands: Sequence[Sequence[str]],
    *,
    cwd: Path,
    what: str,
    build_dir: Path | None = None,
    cancel: threading.Event | None = None,
    env: Mapping[str, str] | None = None,
    hint: str = "",
) -> None:
    """Run commands at the same time and wait for all of them.

    Parameters
    ----------
    commands : sequence of sequence of str
        Command lines; their output is kept only to explain a failure.
    cwd : Path
        Working directory of every command.
    what : str
        What the commands build, for the error message (``'C++ compilation of Stan program
        1a2b…'``).
    build_dir : Path, optional
        The temporary directory of the build: the commands' ``TMPDIR``, and removed by the
        guardians if this process dies while they run.
    cancel : threading.Event, optional
        Setting it (from another thread) kills the commands; this call then raises
        :class:`CommandsCancelled`.
    env : mapping, optional
        Environment of the commands; default this process's.
    hint : str, optional
        Last line of the error message if a command fails: which setting chose the tool and
        what else to try.

    Raises
    ------
    RuntimeError
        If a command fails: the others are killed, and the message holds the failing command
        and the end of its messages.
    CommandsCancelled
        If ``cancel`` was set.
    """
    environment = dict(os.environ if env is None else env)
    if build_dir is not None:
        environment["TMPDIR"] = str(build_dir)
    with contextlib.ExitStack() as stack:
        logs = [stack.enter_context(tempfile.TemporaryFile(mode="w+")) for _ in commands]
        running: list[subprocess.Popen] = []
        try:
            for command, log in zip(commands, logs, strict=True):
                running.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-I",
                            "-S",
                            _GUARDIAN,
                            str(os.getpid()),
                            str(build_dir or ""),
                            *command,
                        ],
                        cwd=cwd,
                        env=environment,
                        stdout=subprocess.DEVNULL,
                        stderr=log,
                        text=True,
                        start_new_session=True,
                    )
                )
            failed = _wait(running, cancel)
        finally:
            _kill(running)
        if failed is not None:
            command, code, log = commands[failed], running[failed].returncode, logs[failed]
            log.seek(0)
            messages = log.read()
            raise RuntimeError(
                f"{what} failed (exit code {code}); command:\n{shlex.join(command)}\n"
                f"last messages:\n{messages[-3000:]}" + (f"\n{hint}" if hint else "")
            )


def _wait(running: list[subprocess.Popen], cancel: threading.Event | None) -> int | None:
    """Index of the first command that failed, or ``None`` when all succeeded."""
    while True:
        codes = [process.poll() for process in running]
        for index, code in enumerate(codes):
            if code:
                return index
        if all(code is not None for code in codes):
            return None
        if cancel is not None and cancel.is_set():
            raise CommandsCancelled("the build was cancelled")
        time.sleep(_POLL_SECONDS)


def _kill(running: list[subprocess.Popen]) -> None:
    """End the process group of every guardian still running, and reap the guardians.

    SIGTERM first: ``make`` then deletes the half-written target it was building (CmdStan's
    shared objects live outside the build directory), compilers their temporary files; the
    guardian then kills what is left. SIGKILL for any group still there after the grace time.
    """
    alive = [process for process in running if process.poll() is None]
    for process in alive:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + _GRACE_SECONDS
    for process in alive:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
