"""Build commands end with the process that started them, and leave nothing behind.

The kill tests start a real Python process that builds a cache entry with a real ``g++``
compile (the guardian, the ``g++`` driver and its ``cc1plus`` pass: three generations), then
interrupt (SIGINT, as Jupyter does), terminate (SIGTERM, as a batch scheduler does) or kill
(SIGKILL) it mid-compile.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import unite_stan
from unite_stan.stan.commands import CommandsCancelled, run_command, run_commands

linux_only = pytest.mark.skipif(
    not Path("/proc/self/cwd").exists(), reason="inspects processes through Linux's /proc"
)

# Writes its pid, then sleeps: a stand-in for a long compile.
SLEEPER = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(120)"


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped by its new parent, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def processes_in(directory: Path) -> list[tuple[int, str]]:
    """(pid, name) of the processes working in ``directory`` or below it (even if it has been
    removed)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd").removesuffix(" (deleted)"))
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if cwd.is_relative_to(directory) and alive(int(entry.name)):
            found.append((int(entry.name), name))
    return found


def user_process(script: str, *args: str, cache: Path) -> subprocess.Popen:
    """A Python process of a user running ``script`` with ``cache`` as its compile cache.

    Ctrl-C raises KeyboardInterrupt there even where this suite runs with SIGINT ignored (a
    job started in the background by a non-interactive shell inherits SIG_IGN, and Python
    then installs no handler: the interrupt tests' SIGINT would do nothing)."""
    interruptible = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    return subprocess.Popen(
        [sys.executable, "-c", interruptible + script, *args],
        env={
            **os.environ,
            "UNITE_STAN_CACHE": str(cache),
            "PYTHONPATH": str(Path(unite_stan.__file__).parents[1]),
        },
        stderr=subprocess.PIPE,
        text=True,
    )


def test_commands_run_at_once_and_succeed(tmp_path):
    commands = [[sys.executable, "-c", f"open({name!r}, 'w').write('done')"] for name in ("a", "b")]
    run_commands(commands, cwd=tmp_path, what="two writes")
    assert (tmp_path / "a").read_text() == (tmp_path / "b").read_text() == "done"


def test_a_failure_names_the_command_and_its_messages(tmp_path):
    failing = [sys.executable, "-c", "import sys; print('bad thing', file=sys.stderr); sys.exit(3)"]
    with pytest.raises(RuntimeError) as failure:
        run_commands([failing], cwd=tmp_path, what="the fake build")
    assert str(failure.value) == (
        f"the fake build failed (exit code 3); command:\n{shlex.join(failing)}\n"
        "last messages:\nbad thing\n"
    )
    with pytest.raises(RuntimeError) as failure:
        run_commands([failing], cwd=tmp_path, what="the fake build", hint="Set CC to another.")
    assert str(failure.value).endswith("last messages:\nbad thing\n\nSet CC to another.")


def test_run_command_returns_the_status_and_both_outputs(tmp_path):
    script = "import sys; print('made'); print('stanc: Syntax error', file=sys.stderr); sys.exit(2)"
    done = run_command([sys.executable, "-c", script], cwd=tmp_path, build_dir=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (2, "made\n", "stanc: Syntax error\n")
    assert done.args == [sys.executable, "-c", script]


def test_a_missing_program_is_a_failure_saying_so(tmp_path):
    with pytest.raises(RuntimeError, match=r"exit code 127(.|\n)*cannot run 'no-such-cc'"):
        run_commands([["no-such-cc", "-c", "x.cpp"]], cwd=tmp_path, what="x")


@linux_only
def test_the_first_failure_stops_the_other_commands(tmp_path):
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="exit code 1"):
        run_commands(
            [
                [sys.executable, "-c", SLEEPER, str(tmp_path / "pid")],
                [sys.executable, "-c", "import time, sys; time.sleep(1); sys.exit(1)"],
            ],
            cwd=tmp_path,
            what="x",
        )
    assert time.monotonic() - start < 10
    assert not alive(int((tmp_path / "pid").read_text()))


@linux_only
def test_cancel_kills_the_commands(tmp_path):
    cancel = threading.Event()
    pid_file = tmp_path / "pid"
    setter = threading.Thread(
        target=lambda: (wait_for(pid_file.exists, 30, "the sleeper"), cancel.set())
    )
    setter.start()
    with pytest.raises(CommandsCancelled):
        run_commands(
            [[sys.executable, "-c", SLEEPER, str(pid_file)]], cwd=tmp_path, what="x", cancel=cancel
        )
    setter.join()
    assert not alive(int(pid_file.read_text()))


# The user's process: builds one cache entry by compiling Stan's model header with g++.
BUILDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import httpstan

    from unite_stan.stan import cache
    from unite_stan.stan.commands import run_commands

    include = Path(httpstan.__file__).parent / "include"
    command = [
        "g++", "-std=c++14", "-O0", "-D_REENTRANT", "-DSTAN_THREADS", f"-I{include}",
        "-x", "c++", "-c", str(include / "stan" / "model" / "model_header.hpp"), "-o", "h.o",
    ]

    def build(workdir, final):
        Path(sys.argv[1]).write_text(str(workdir))
        run_commands([command], cwd=workdir, what="the header", build_dir=workdir)
        raise AssertionError("the test kills this process before the compile ends")

    cache.build_entry("fake", "ab" * 32, None, build, progress=False)
    """
)


@linux_only
@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_compilers_die_with_their_process_and_leave_nothing(tmp_path, signum):
    root, workdir_file = tmp_path / "cache", tmp_path / "workdir"
    user = user_process(BUILDER, str(workdir_file), cache=root)
    try:
        wait_for(workdir_file.exists, 60, "the build to start")
        workdir = Path(workdir_file.read_text())
        wait_for(lambda: any(name == "cc1plus" for _, name in processes_in(workdir)), 60, "cc1plus")
        compilers = processes_in(workdir)
        assert {"g++", "cc1plus"} <= {name for _, name in compilers}
        user.send_signal(signum)
        user.wait(timeout=30)
        wait_for(lambda: not processes_in(workdir), 15, f"the compilers to end: {compilers}")
        wait_for(lambda: not workdir.exists(), 15, "the build directory to be removed")
        assert [p.name for p in (root / "fake").iterdir()] == [f"{'ab' * 8}.lock"]
    finally:
        if user.poll() is None:
            user.kill()
        user.communicate()


@linux_only
@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_an_interrupt_stops_the_shim_and_header_compiled_at_once(tmp_path):
    """The first setup on a machine compiles the shim and the precompiled header in two
    threads; an interrupt (in the thread compiling the shim) stops both at once, not after the
    header's minute or two."""
    root = tmp_path / "cache"
    prepare = "from unite_stan.stan.backends.embedded import EmbeddedBackend as B\n"
    user = user_process(prepare + "B().prepare(progress=False)", cache=root)
    try:
        wait_for(
            lambda: [name for _, name in processes_in(root)].count("cc1plus") == 2,
            120,
            "two compilers",
        )
        user.send_signal(signal.SIGINT)
        _, messages = user.communicate(timeout=20)
        assert "KeyboardInterrupt" in messages
        wait_for(lambda: not processes_in(root), 15, "the compilers to end")
        assert not list((root / "embedded").glob(".*.tmp-*"))
    finally:
        if user.poll() is None:
            user.kill()
            user.communicate()
