"""The compile cache with stand-in builders (no compiler): keys, layout, locking, crashes."""

from __future__ import annotations

import multiprocessing
import os
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


def test_damaged_entry_is_rebuilt(isolated_cache):
    key = cache.program_hash(PROGRAM, "fake", {})
    record, _ = cache.build_entry(
        "fake", key, PROGRAM, lambda w, f: fake_build(w, f, key=key), progress=False
    )
    Path(record.artifact).unlink()
    assert cache.lookup(key) is None
    again, built = cache.build_entry(
        "fake", key, PROGRAM, lambda w, f: fake_build(w, f, key=key), progress=False
    )
    assert built and Path(again.artifact).is_file()


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
