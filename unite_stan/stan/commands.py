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
``/tmp`` either. Backends build through :func:`run_commands` (compilers, raising with their
messages on failure) or :func:`run_command` (one command whose output the caller reads).
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

__all__ = ["CommandsCancelled", "run_command", "run_commands"]

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
    with contextlib.ExitStack() as stack:
        logs = [stack.enter_context(tempfile.TemporaryFile(mode="w+")) for _ in commands]
        codes = _run_guarded(
            commands,
            [(subprocess.DEVNULL, log) for log in logs],
            cwd=cwd,
            build_dir=build_dir,
            cancel=cancel,
            env=env,
        )
        failed = next((k for k, code in enumerate(codes) if code), None)
        if failed is not None:
            logs[failed].seek(0)
            messages = logs[failed].read()
            raise RuntimeError(
                f"{what} failed (exit code {codes[failed]}); command:\n"
                f"{shlex.join(commands[failed])}\nlast messages:\n{messages[-3000:]}"
                + (f"\n{hint}" if hint else "")
            )


def run_command(
    command: Sequence[str],
    *,
    cwd: Path,
    build_dir: Path | None = None,
    cancel: threading.Event | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run one command like :func:`run_commands`, and return its exit status and output.

    For callers that read the output themselves (``make``, whose messages say whether stanc
    rejected the program); a non-zero exit status is returned, not raised.

    Returns
    -------
    subprocess.CompletedProcess
        ``returncode``, and ``stdout`` and ``stderr`` as text.

    Raises
    ------
    CommandsCancelled
        If ``cancel`` was set.
    """
    with tempfile.TemporaryFile(mode="w+") as out, tempfile.TemporaryFile(mode="w+") as err:
        (code,) = _run_guarded(
            [command], [(out, err)], cwd=cwd, build_dir=build_dir, cancel=cancel, env=env
        )
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(list(command), code, out.read(), err.read())


def _run_guarded(
    commands: Sequence[Sequence[str]],
    outputs: Sequence[tuple],
    *,
    cwd: Path,
    build_dir: Path | None,
    cancel: threading.Event | None,
    env: Mapping[str, str] | None,
) -> list[int | None]:
    """Exit statuses of the commands, each run under a guardian with its (stdout, stderr); the
    first failure ends the others, whose status is then ``None``."""
    environment = dict(os.environ if env is None else env)
    if build_dir is not None:
        environment["TMPDIR"] = str(build_dir)
    running: list[subprocess.Popen] = []
    try:
        for command, (stdout, stderr) in zip(commands, outputs, strict=True):
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
                    stdout=stdout,
                    stderr=stderr,
                    text=True,
                    start_new_session=True,
                )
            )
        codes = _wait(running, cancel)
    finally:
        _kill(running)
    return codes


def _wait(running: list[subprocess.Popen], cancel: threading.Event | None) -> list[int | None]:
    """Exit statuses once every command succeeded or one failed (``None``: still running)."""
    while True:
        codes = [process.poll() for process in running]
        if any(codes) or all(code is not None for code in codes):
            return codes
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
