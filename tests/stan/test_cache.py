"""The compile cache with stand-in builders (no compiler): keys, layout, locking, crashes."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

import pytest

from unite_stan.stan import cache
from unite_stan.stan.backends.base import BuildRecord

PROGRAM = "parameters { real x; }\nmodel { x ~ normal(0, 1); }\n"


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv(cache.ENV_VAR, str(root))
    return root


def fake_build(workdir: Path, final: Path, *, key: str, log: Path | None = None, delay=0.0):
    """Stand-in for a compiler: writes an artifact and records that it ran."""
    if log is not None:
        with open(log, "a") as handle:
            handle.write(f"{os.getpid()}\n")
    time.sleep(delay)
    (workdir / "artifact.bin").write_bytes(b"built")
    return BuildRecord(
        program_hash=key,
        backend="fake",
        backend_identity="fake 1.0",
        options={},
        created=f"{time.time():.6f}",
        compile_seconds=delay,
        artifact=str(final / "artifact.bin"),
    )


def build_in_process(root: str, key: str, log: str) -> str:
    """Run in a child process: build (or reuse) the entry, return the record's creation time."""
    os.environ[cache.ENV_VAR] = root

    def build(workdir, final):
        return fake_build(workdir, final, key=key, log=Path(log), delay=1.5)

    record, _ = cache.build_entry("fake", key, PROGRAM, build, progress=False)
    return record.created


def test_cache_root_follows_environment(isolated_cache, monkeypatch):
    assert cache.cache_root() == isolated_cache
    monkeypatch.delenv(cache.ENV_VAR)
    assert cache.cache_root().name == "unite_stan"


def test_key_ignores_formatting_but_not_program_identity_or_options():
    key = cache.program_hash(PROGRAM, "id", {"flags": ["-O3"]})
    assert len(key) == 64
    assert (
        cache.program_hash(PROGRAM.replace("\n", "  \r\n") + "\n\n", "id", {"flags": ["-O3"]})
        == key
    )
    assert cache.program_hash(PROGRAM.replace("0, 1", "0, 2"), "id", {"flags": ["-O3"]}) != key
    assert cache.program_hash(PROGRAM, "id2", {"flags": ["-O3"]}) != key
    assert cache.program_hash(PROGRAM, "id", {"flags": ["-O1"]}) != key


def test_build_once_then_reuse(isolated_cache):
    key = cache.program_hash(PROGRAM, "fake", {})
    calls = []

    def build(workdir, final):
        calls.append(workdir)
        return fake_build(workdir, final, key=key)

    first, built = cache.build_entry("fake", key, PROGRAM, build, progress=False)
    second, built_again = cache.build_entry("fake", key, PROGRAM, build, progress=False)
    assert (built, built_again) == (True, False)
    assert len(calls) == 1 and first == second
    entry = cache.entry_dir("fake", key)
    assert entry == isolated_cache / "fake" / key[:16]
    assert sorted(p.name for p in entry.iterdir()) == ["artifact.bin", "build.json", "model.stan"]
    assert (entry / "model.stan").read_text() == PROGRAM
    assert BuildRecord.from_json((entry / "build.json").read_text()) == first
    assert cache.lookup(key) == first
    assert cache.lookup(key, backend="fake") == first
    assert cache.lookup(key, backend="other") is None
    assert cache.lookup(cache.program_hash("x", "fake", {})) is None


def test_failed_build_leaves_nothing_that_looks_valid(isolated_cache):
    key = cache.program_hash(PROGRAM, "fake", {})

    def broken(workdir, final):
        (workdir / "artifact.bin").write_bytes(b"half")
        raise RuntimeError("compiler crashed")

    with pytest.raises(RuntimeError, match="compiler crashed"):
        cache.build_entry("fake", key, PROGRAM, broken, progress=False)
    leftovers = [p.name for p in (isolated_cache / "fake").iterdir() if p.suffix != ".lock"]
    assert leftovers == []
    assert cache.lookup(key) is None
    record, built = cache.build_entry(
        "fake", key, PROGRAM, lambda w, f: fake_build(w, f, key=key), progress=False
    )
    assert built and Path(record.artifact).read_bytes() == b"built"


def test_record_holds_the_artifact_size_and_hash(isolated_cache):
    key = cache.program_hash(PROGRAM, "fake", {})
    record, _ = cache.build_entry(
        "fake", key, PROGRAM, lambda w, f: fake_build(w, f, key=key), progress=False
    )
    assert record.artifact_size == len(b"built")
    assert record.artifact_sha256 == hashlib.sha256(b"built").hexdigest()
    assert BuildRecord.from_json((Path(record.directory) / "build.json").read_text()) == record


def _truncate(entry: Path) -> None:
    (entry / "artifact.bin").write_bytes(b"bu")


def _empty(entry: Path) -> None:
    (entry / "artifact.bin").write_bytes(b"")


def _remove(entry: Path) -> None:
    (entry / "artifact.bin").unlink()


def _alter(entry: Path) -> None:
    (entry / "artifact.bin").write_bytes(b"BUILT")


def _corrupt_record(entry: Path) -> None:
    text = (entry / "build.json").read_text()
    (entry / "build.json").write_text(text[: len(text) // 2])


def _remove_record(entry: Path) -> None:
    (entry / "build.json").unlink()


def _old_record(entry: Path) -> None:
    fields = json.loads((entry / "build.json").read_text())
    del fields["artifact_size"], fields["artifact_sha256"]
    (entry / "build.json").write_text(json.dumps(fields))


def _null_artifact(entry: Path) -> None:
    fields = json.loads((entry / "build.json").read_text())
    fields["artifact"] = None
    (entry / "build.json").write_text(json.dumps(fields))


def _size_as_text(entry: Path) -> None:
    fields = json.loads((entry / "build.json").read_text())
    fields["artifact_size"] = str(fields["artifact_size"])
    (entry / "build.json").write_text(json.dumps(fields))


def _file_for_entry(entry: Path) -> None:
    for path in entry.iterdir():
        path.unlink()
    entry.rmdir()
    entry.write_text("x")


DAMAGE = {
    "truncated": (_truncate, "artifact.bin has 2 bytes where the build record says 5"),
    "emptied": (_empty, "artifact.bin has 0 bytes where the build record says 5"),
    "missing": (_remove, "artifact.bin is missing"),
    "altered": (_alter, "artifact.bin's content hash differs from its build record"),
    "corrupt record": (
        _corrupt_record,
        "build.json is unreadable (build record is not valid JSON: ",
    ),
    "missing record": (_remove_record, "build.json is missing"),
    "record without hash": (
        _old_record,
        "its build record has no artifact hash (written by an older unite_stan)",
    ),
    "null artifact": (
        _null_artifact,
        "build.json is unreadable (build record field 'artifact' is None (NoneType); it must "
        "be a string)",
    ),
    "size as text": (
        _size_as_text,
        "build.json is unreadable (build record field 'artifact_size' is '5' (str); it must be "
        "an integer)",
    ),
    "file for entry": (_file_for_entry, "the entry is a file, not a directory"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_entry_is_rebuilt_with_a_one_line_warning(isolated_cache, monkeypatch, damage):
    damage_entry, reason = DAMAGE[damage]
    key = cache.program_hash(PROGRAM, "fake", {})
    record, _ = cache.build_entry(
        "fake", key, PROGRAM, lambda w, f: fake_build(w, f, key=key), progress=False
    )
    damage_entry(record.directory)
    monkeypatch.setattr(cache, "_verified", {})  # as in a later process
    assert cache.lookup(key) is None
    with pytest.warns(RuntimeWarning) as warned:
        again, built = cache.build_entry(
            "fake", key, PROGRAM, lambda w, f: fake_build(w, f, key=key), progress=False
        )
    (warning,) = warned
    message = str(warning.message)
    assert message.startswith(
        f"unite_stan: the cached build of Stan program {key[:16]} in {record.directory} is "
        f"damaged ({reason}"
    )
    assert message.endswith("); rebuilding it") and "\n" not in message
    assert built and Path(again.artifact).read_bytes() == b"built"
    assert cache.lookup(key) == again


def test_an_unchanged_artifact_is_hashed_once_per_process(isolated_cache, monkeypatch):
    key = cache.program_hash(PROGRAM, "fake", {})
    record, _ = cache.build_entry(
        "fake", key, PROGRAM, lambda w, f: fake_build(w, f, key=key), progress=False
    )
    hashed = []
    real_sha256 = cache.file_sha256
    monkeypatch.setattr(cache, "file_sha256", lambda path: hashed.append(path) or real_sha256(path))
    monkeypatch.setattr(cache, "_verified", {})
    for _ in range(3):
        assert cache.lookup(key) == record
    assert hashed == [Path(record.artifact)]
    # a write changes the modification time (at the file system clock's resolution, a few
    # ms): the content is checked again
    time.sleep(0.05)
    Path(record.artifact).write_bytes(b"built")
    assert cache.lookup(key) == record
    assert len(hashed) == 2


def test_stale_temporary_directory_from_a_crash_is_removed(isolated_cache):
    key = cache.program_hash(PROGRAM, "fake", {})
    stale = isolated_cache / "fake" / f".{key[:16]}.tmp-crashed"
    stale.mkdir(parents=True)
    cache.build_entry("fake", key, PROGRAM, lambda w, f: fake_build(w, f, key=key), progress=False)
    assert not stale.exists()


def test_progress_message_names_the_program(isolated_cache, capsys):
    key = cache.program_hash(PROGRAM, "fake", {})
    cache.build_entry("fake", key, PROGRAM, lambda w, f: fake_build(w, f, key=key))
    err = capsys.readouterr().err
    assert f"Compiling Stan program {key[:16]} (fake backend" in err
    assert "Compiled Stan program" in err


def test_concurrent_processes_build_once(isolated_cache, tmp_path):
    key = cache.program_hash(PROGRAM, "fake", {"concurrent": True})
    log = tmp_path / "builds.log"
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        created = pool.starmap(build_in_process, [(str(isolated_cache), key, str(log))] * 2)
    assert log.read_text().count("\n") == 1
    assert created[0] == created[1]
    entries = [p for p in (isolated_cache / "fake").iterdir() if p.is_dir()]
    assert [p.name for p in entries] == [key[:16]]


def test_build_record_json_round_trip_and_validation():
    record = BuildRecord(
        program_hash="ab" * 32,
        backend="embedded",
        backend_identity="x",
        options={"cxxflags": ["-O3"]},
        created="2024-01-01T00:00:00+00:00",
        compile_seconds=1.5,
        artifact="/tmp/a.so",
        command="g++ a.cpp",
        warnings="Warning: x",
    )
    assert BuildRecord.from_json(record.to_json()) == record
    with pytest.raises(ValueError, match="not valid JSON"):
        BuildRecord.from_json("{")
    with pytest.raises(ValueError, match="incomplete"):
        BuildRecord.from_json('{"backend": "embedded"}')
    with pytest.raises(ValueError, match="keys among"):
        BuildRecord.from_json('{"surprise": 1}')
    fields = json.loads(record.to_json())
    for name, value, kind in [
        ("options", [], "an object"),
        ("compile_seconds", "1.5", "an integer or a number"),
        ("artifact_size", True, "an integer"),
    ]:
        bad = json.dumps({**fields, name: value})
        with pytest.raises(ValueError) as err:
            BuildRecord.from_json(bad)
        assert str(err.value) == (
            f"build record field {name!r} is {value!r} ({type(value).__name__}); it must be {kind}"
        )
    assert BuildRecord.from_json(json.dumps({**fields, "compile_seconds": 2})).compile_seconds == 2


def test_compile_lines_are_printed_whatever_progress_says(isolated_cache, capsys):
    key = cache.program_hash(PROGRAM, "fake", {"quiet": True})
    cache.build_entry("fake", key, PROGRAM, lambda w, f: fake_build(w, f, key=key), progress=False)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == (
        f"unite_stan [compile] Compiling Stan program {key[:16]} (fake backend; this takes "
        "20-60 s, once)…"
    )
    assert lines[1].startswith(f"unite_stan [compile] Compiled Stan program {key[:16]} in 0 s")
    assert len(lines) == 2


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_shows_the_compile_time_running(isolated_cache, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    key = cache.program_hash(PROGRAM, "fake", {"terminal": True})
    cache.build_entry(
        "fake", key, PROGRAM, lambda w, f: fake_build(w, f, key=key, delay=2.2), progress=True
    )
    shown = terminal.getvalue()
    assert f"\rCompiling Stan program {key[:16]}: 00:02" in shown
    assert f"Compiled Stan program {key[:16]} in 2 s" in shown


def _message(root: Path, source: str, reason: str) -> str:
    return (
        f"cannot write the Stan compile cache {root} ({source}): {reason}. Set "
        "UNITE_STAN_CACHE to a directory you can write, e.g. export "
        "UNITE_STAN_CACHE=$HOME/unite_stan_cache"
    )


def test_a_cache_path_that_is_a_file_names_the_setting(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    root.write_text("not a directory")
    monkeypatch.setenv(cache.ENV_VAR, str(root))
    key = cache.program_hash(PROGRAM, "fake", {})
    with pytest.raises(cache.CacheError) as error:
        cache.build_entry("fake", key, PROGRAM, lambda w, f: fake_build(w, f, key=key))
    assert str(error.value) == _message(
        root, "set by UNITE_STAN_CACHE", f"{root} is a file, not a directory"
    )
    assert isinstance(error.value, OSError)


def test_a_directory_where_a_lock_file_belongs_is_named(isolated_cache):
    key = cache.program_hash(PROGRAM, "fake", {})
    lock = isolated_cache / "fake" / f"{key[:16]}.lock"
    lock.mkdir(parents=True)
    with pytest.raises(cache.CacheError) as error:
        cache.build_entry("fake", key, PROGRAM, lambda w, f: fake_build(w, f, key=key))
    assert str(error.value) == (
        f"the Stan compile cache {isolated_cache} (set by UNITE_STAN_CACHE) has a directory "
        f"where its lock file belongs: {lock}; remove that directory (nothing in it is the "
        "cache's)"
    )
    lock.rmdir()
    record, built = cache.build_entry(
        "fake", key, PROGRAM, lambda w, f: fake_build(w, f, key=key), progress=False
    )
    assert built and Path(record.artifact).read_bytes() == b"built"


needs_sysfs = pytest.mark.skipif(
    not Path("/sys/kernel").is_dir(), reason="needs Linux's /sys, which nobody can write"
)


@needs_sysfs
def test_a_cache_that_cannot_be_created_names_the_setting(monkeypatch):
    root = Path("/sys/unite_stan_cache")
    monkeypatch.setenv(cache.ENV_VAR, str(root))
    key = cache.program_hash(PROGRAM, "fake", {})
    with pytest.raises(cache.CacheError) as error:
        cache.build_entry("fake", key, PROGRAM, lambda w, f: fake_build(w, f, key=key))
    assert str(error.value) == _message(
        root, "set by UNITE_STAN_CACHE", "no permission to write /sys/unite_stan_cache"
    )


@needs_sysfs
def test_an_unwritable_cache_directory_names_the_setting(monkeypatch):
    # /sys/kernel exists and cannot be written, as root too: it stands for a read-only cache
    # whose backend directory exists, where the lock file is the first thing written.
    monkeypatch.setenv(cache.ENV_VAR, "/sys")
    key = cache.program_hash(PROGRAM, "kernel", {})
    with pytest.raises(cache.CacheError) as error:
        cache.build_entry("kernel", key, PROGRAM, lambda w, f: fake_build(w, f, key=key))
    assert str(error.value) == _message(
        Path("/sys"),
        "set by UNITE_STAN_CACHE",
        f"no permission to write /sys/kernel/{key[:16]}.lock",
    )


def test_the_default_location_is_named_when_the_setting_is_unset(tmp_path, monkeypatch):
    monkeypatch.delenv(cache.ENV_VAR, raising=False)
    monkeypatch.setattr(cache.platformdirs, "user_cache_dir", lambda name: str(tmp_path / name))
    (tmp_path / "unite_stan").write_text("")
    key = cache.program_hash(PROGRAM, "fake", {})
    with pytest.raises(cache.CacheError) as error:
        cache.build_entry("fake", key, PROGRAM, lambda w, f: fake_build(w, f, key=key))
    assert str(error.value) == _message(
        tmp_path / "unite_stan",
        "the default; UNITE_STAN_CACHE is not set",
        f"{tmp_path / 'unite_stan'} is a file, not a directory",
    )


def test_a_read_only_cache_still_serves_its_builds(isolated_cache, monkeypatch):
    """A valid entry is handed out without writing anything (every write here would fail)."""
    key = cache.program_hash(PROGRAM, "fake", {})
    record, _ = cache.build_entry(
        "fake", key, PROGRAM, lambda w, f: fake_build(w, f, key=key), progress=False
    )

    def unwritable(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cache.filelock.FileLock, "acquire", unwritable)
    monkeypatch.setattr(cache.tempfile, "mkdtemp", unwritable)
    assert cache.build_entry("fake", key, PROGRAM, None) == (record, False)


def test_a_moved_cache_still_serves_its_builds(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "here"))
    key = cache.program_hash(PROGRAM, "fake", {})
    record, _ = cache.build_entry(
        "fake", key, PROGRAM, lambda w, f: fake_build(w, f, key=key), progress=False
    )
    (tmp_path / "here").rename(tmp_path / "there")
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "there"))
    moved, built = cache.build_entry("fake", key, PROGRAM, None)
    assert not built
    assert moved.artifact == str(tmp_path / "there" / "fake" / key[:16] / "artifact.bin")
    assert moved == dataclasses.replace(record, artifact=moved.artifact)


def test_a_process_that_may_not_compile_names_the_missing_build(isolated_cache):
    key = cache.program_hash(PROGRAM, "fake", {"forbidden": True})
    final = isolated_cache / "fake" / key[:16]
    with cache.builds_forbidden(), pytest.raises(cache.NotCompiledError) as caught:
        cache.build_entry("fake", key, PROGRAM, lambda w, f: fake_build(w, f, key=key))
    assert str(caught.value) == (
        f"the build of Stan program {key[:16]} (fake backend) is not in the cache at {final}, "
        "and this process may not compile (a batch worker): the parent process compiles each "
        "structure before fanning out; check that every worker sees the same UNITE_STAN_CACHE "
        f"(here {isolated_cache})"
    )
    assert (caught.value.backend, caught.value.code) == ("fake", PROGRAM)
    assert not final.exists()
    # the parent compiles; within the block the cached build is then served
    record, built = cache.build_entry("fake", key, PROGRAM, lambda w, f: fake_build(w, f, key=key))
    with cache.builds_forbidden():
        assert cache.build_entry("fake", key, PROGRAM, None) == (record, False)
    assert built


def test_not_compiled_error_pickles():
    import pickle

    err = pickle.loads(pickle.dumps(cache.NotCompiledError("message", "embedded", PROGRAM)))
    assert (str(err), err.backend, err.code) == ("message", "embedded", PROGRAM)
