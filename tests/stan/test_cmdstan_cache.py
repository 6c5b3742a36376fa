"""CmdStan executables in the compile cache heal like the embedded backend's libraries.

The checks live in the cache (``build_entry``), so the CmdStan backend gets them without code
of its own; these tests show it on real executables. Skipped where CmdStan is not installed.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from unite_stan.stan import cache
from unite_stan.stan.backends import cmdstan_available, get_backend
from unite_stan.stan.settings import SamplerSettings

AVAILABLE, REASON = cmdstan_available()
pytestmark = [
    pytest.mark.skipif(not AVAILABLE, reason=f"CmdStan not installed: {REASON}"),
    pytest.mark.cmdstan,
    pytest.mark.stan,
]

PROGRAM = """data { int<lower=0> N; vector[N] y; }
parameters { real mu; }
model { y ~ normal(mu, 1); }
"""
DATA = {"N": 3, "y": np.array([0.5, 1.0, 1.5])}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The program built once, in a cache of this module's own (copied, then damaged)."""
    root = tmp_path_factory.mktemp("cmdstan_cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(cache.ENV_VAR, str(root))
        return get_backend("cmdstan").compile(PROGRAM, progress=False).record


@pytest.fixture
def damaged_copy(built, tmp_path, monkeypatch):
    """A fresh cache holding a copy of the built entry; returns the copy's directory."""
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path))
    entry = tmp_path / "cmdstan" / built.directory.name
    shutil.copytree(built.directory, entry)
    return entry


def executable(entry: Path, record) -> Path:
    return entry / Path(record.artifact).name


def check_runs(model) -> None:
    draws = get_backend("cmdstan").sample(
        model,
        DATA,
        SamplerSettings(num_warmup=50, num_samples=20, num_chains=1, seed=1, progress=False),
    )
    assert draws.column("mu").shape == (1, 20)


def test_a_truncated_executable_is_rebuilt(built, damaged_copy):
    exe = executable(damaged_copy, built)
    size = exe.stat().st_size
    os.truncate(exe, size // 2)
    with pytest.warns(RuntimeWarning) as warned:
        model = get_backend("cmdstan").compile(PROGRAM, progress=False)
    assert [str(w.message) for w in warned] == [
        f"unite_stan: the cached build of Stan program {damaged_copy.name} in {damaged_copy} "
        f"is damaged ({exe.name} has {size // 2} bytes where the build record says {size}); "
        "rebuilding it"
    ]
    assert model.record.artifact == str(exe)
    assert model.record.artifact_size == exe.stat().st_size > size // 2
    check_runs(model)


def _empty(exe: Path, record) -> str:
    exe.write_bytes(b"")
    return f"{exe.name} has 0 bytes where the build record says {record.artifact_size}"


def _remove(exe: Path, record) -> str:
    exe.unlink()
    return f"{exe.name} is missing"


def _corrupt_record(exe: Path, record) -> str:
    (exe.parent / "build.json").write_text("{")
    return (
        "build.json is unreadable (build record is not valid JSON: Expecting property name "
        "enclosed in double quotes: line 1 column 2 (char 1))"
    )


@pytest.mark.parametrize("damage", [_empty, _remove, _corrupt_record])
def test_damaged_entries_are_rebuilt(built, damaged_copy, monkeypatch, damage):
    """Detected like the truncated executable above, whose rebuild is real; here the rebuild
    copies the good executable, to spare three compiles."""
    exe = executable(damaged_copy, built)
    reason = damage(exe, built)
    backend = get_backend("cmdstan")

    def rebuild(workdir, final, **_):
        shutil.copy(built.artifact, workdir / exe.name)
        return dataclasses.replace(built, artifact=str(final / exe.name))

    monkeypatch.setattr(backend, "_build", rebuild)
    with pytest.warns(RuntimeWarning) as warned:
        model = backend.compile(PROGRAM, progress=False)
    assert [str(w.message) for w in warned] == [
        f"unite_stan: the cached build of Stan program {damaged_copy.name} in {damaged_copy} "
        f"is damaged ({reason}); rebuilding it"
    ]
    assert model.record.artifact_sha256 == built.artifact_sha256
    check_runs(model)
