"""Runs one build command for a unite_stan process and ends it when that process dies.

Started by :func:`unite_stan.stan.commands.run_commands` as::

    python -I -S _guardian.py <parent pid> <build directory or ''> <command> [<argument>...]

in a session of its own, so the guardian, the command and everything the command starts share
one process group that the parent can kill at once. A compiler driver (``g++``) runs its passes
(``cc1plus``, ``as``) as its own children, and killing the driver alone leaves them running:
that is why the group, not the command, is what gets killed.

The guardian exits with the command's exit status. It stops early on SIGTERM, which the parent
sends to the whole group to end a build (an interrupt, a cancelled or failed build), and when
the parent dies, whatever killed it (SIGTERM from a batch scheduler, SIGKILL): it learns of the
death at once on Linux, where ``prctl(PR_SET_PDEATHSIG)`` sends it SIGTERM when the parent
*thread* that started it ends (that thread waits for the guardian, so it never ends first in
normal operation), and within ``POLL_SECONDS`` elsewhere, when its parent process id changes.
Stopping, it sends SIGTERM to the group (``make`` deletes a half-written target, compilers
their temporary files), waits up to ``GRACE_SECONDS`` for the command, removes the build
directory and kills whatever is left of the group, itself included.

This file is executed by path, outside the package: it imports only the standard library.
"""

import os
import shutil
import signal
import subprocess
import sys

POLL_SECONDS = 0.5
# Compilers remove their temporary files on SIGTERM; stragglers get SIGKILL after this.
GRACE_SECONDS = 5.0
PR_SET_PDEATHSIG = 1


class _Stop(Exception):
    pass


def _on_sigterm(signum, frame):
    raise _Stop


def _signal_me_when_the_parent_dies() -> None:
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the polling below still notices
        pass


def _end_group(child, build_dir: str) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.killpg(0, signal.SIGTERM)
    if child is not None:
        try:
            child.wait(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            pass
    if build_dir:
        shutil.rmtree(build_dir, ignore_errors=True)
    os.killpg(0, signal.SIGKILL)  # the guardian included


def main(argv: list[str]) -> int:
    parent, build_dir, *command = argv
    parent_pid = int(parent)
    child = None
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        _signal_me_when_the_parent_dies()
        if os.getppid() != parent_pid:  # the parent died before the signal was arranged
            raise _Stop
        try:
            child = subprocess.Popen(command)
        except OSError as err:
            print(f"cannot run {command[0]!r}: {err}", file=sys.stderr)
            return 127
        while True:
            try:
                code = child.wait(timeout=POLL_SECONDS)
            except subprocess.TimeoutExpired:
                if os.getppid() != parent_pid:
                    raise _Stop from None
                continue
            return code if code >= 0 else 128 - code
    except _Stop:
        _end_group(child, build_dir)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
