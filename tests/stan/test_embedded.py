"""Embedded backend: compile a toy program once, then sample, evaluate and check against numpy."""

from __future__ import annotations

import dataclasses
import io
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from unite_stan.stan import cache
from unite_stan.stan.backends import embedded, get_backend
from unite_stan.stan.backends.base import SAMPLER_COLUMNS
from unite_stan.stan.backends.embedded import (
    TOOLCHAIN_FILE,
    CompilerNotFoundError,
    EmbeddedBackend,
    adaptation_windows,
)
from unite_stan.stan.pilot import dispersed_inits, laplace_pilot
from unite_stan.stan.settings import SamplerSettings

TOY = """data { int<lower=0> N; vector[N] y; real mu0; }
parameters { real mu; real<lower=0> sigma; }
model {
  target += normal_lpdf(mu | mu0, 10);
  target += lognormal_lpdf(sigma | 0, 1);
  target += normal_lpdf(y | mu, sigma);
}
generated quantities { real y_rep = normal_rng(mu, sigma); }
"""

COLUMNS = [*SAMPLER_COLUMNS, "mu", "sigma", "y_rep"]


def toy_data(seed=0, n=40, mean=3.0, sd=2.0):
    y = np.random.default_rng(seed).normal(mean, sd, n)
    return {"N": n, "y": y, "mu0": 0.0}


def numpy_log_density(u, data):
    """Toy log density on the unconstrained scale (mu, log sigma), Jacobian included."""
    mu, log_sigma = u
    sigma = np.exp(log_sigma)
    return (
        stats.norm.logpdf(mu, data["mu0"], 10)
        + stats.lognorm.logpdf(sigma, 1.0)
        + stats.norm.logpdf(data["y"], mu, sigma).sum()
        + log_sigma
    )


def grid_posterior_mean_sd(data):
    """Posterior mean and sd of mu by brute-force integration on a (mu, log sigma) grid."""
    y = data["y"]
    mu = np.linspace(y.mean() - 3, y.mean() + 3, 801)
    log_sigma = np.linspace(np.log(y.std()) - 1.5, np.log(y.std()) + 1.5, 801)
    m, s = np.meshgrid(mu, log_sigma, indexing="ij")
    sigma = np.exp(s)
    log_post = (
        stats.norm.logpdf(m, data["mu0"], 10)
        + stats.lognorm.logpdf(sigma, 1.0)
        + s
        - len(y) * s
        - 0.5 * ((y[None, None, :] - m[..., None]) ** 2).sum(-1) / sigma**2
    )
    weight = np.exp(log_post - log_post.max())
    weight /= weight.sum()
    mean = (weight * m).sum()
    return mean, np.sqrt((weight * (m - mean) ** 2).sum())


def mcse(draws):
    """Monte Carlo standard error of the mean by batch means (20 batches per chain)."""
    batches = draws.reshape(draws.shape[0], 20, -1).mean(axis=2).ravel()
    return batches.std(ddof=1) / np.sqrt(batches.size)


@pytest.fixture(scope="module")
def backend():
    return EmbeddedBackend()


@pytest.fixture(scope="module")
def toy(backend):
    return backend.compile(TOY, progress=False)


@pytest.fixture(scope="module")
def toy_draws(backend, toy):
    return backend.sample(
        toy,
        toy_data(),
        SamplerSettings(
            num_warmup=1000,
            num_samples=1000,
            num_chains=4,
            seed=20240611,
            progress=False,
        ),
        inits=None,
    )


@pytest.mark.stan
def test_build_record(toy):
    record = toy.record
    assert toy.backend == record.backend == "embedded"
    assert toy.code == TOY
    assert os.path.isfile(record.artifact)
    assert record.directory == cache.entry_dir("embedded", record.program_hash)
    assert (record.directory / "model.stan").read_text() == TOY
    assert "httpstan 4" in record.backend_identity and "stanc3" in record.backend_identity
    assert "-O3" in record.options["cxxflags"] and "-DSTAN_THREADS" in record.options["cxxflags"]
    assert "g++" in record.command and "stan_services.o" in record.command
    # stanc, then the model and its gradient unit compiled at once, then the link
    stanc, model_unit, gradient_unit, link = record.command.splitlines()
    assert "stanc" in stanc and "-DUSING_R" in gradient_unit and "-DUSING_R" not in model_unit
    assert "stan/backends/include" in model_unit and "-shared" in link
    assert len(record.options["overrides"]) == 16
    assert record.compile_seconds > 0
    assert hasattr(toy.handle, "hmc_nuts_diag_e_adapt_wrapper")


@pytest.mark.stan
def test_columns_shapes_and_adaptation(toy_draws):
    draws = toy_draws
    assert draws.columns == COLUMNS
    assert draws.values.shape == (4, 1000, len(COLUMNS)) and draws.values.dtype == np.float64
    assert draws.backend == "embedded" and draws.seed == 20240611
    assert draws.step_size.shape == (4,) and np.all(draws.step_size > 0)
    np.testing.assert_array_equal(draws.step_size, draws.column("stepsize__")[:, 0])
    assert draws.inv_metric.shape == (4, 2) and np.all(draws.inv_metric > 0)
    # The metric adapts to the posterior variances of (mu, log sigma), far from its start at 1.
    assert np.all(draws.inv_metric < 0.5)
    assert np.all(draws.warmup_seconds > 0) and np.all(draws.sampling_seconds > 0)
    assert np.all(draws.column("sigma") > 0)
    assert set(np.unique(draws.column("divergent__"))) <= {0.0, 1.0}


@pytest.mark.stan
def test_posterior_mean_matches_grid_integration(toy_draws):
    mean, sd = grid_posterior_mean_sd(toy_data())
    mu = toy_draws.column("mu")
    assert abs(mu.mean() - mean) < 4 * mcse(mu)
    assert mu.std() == pytest.approx(sd, rel=0.1)
    y_rep = toy_draws.column("y_rep")
    assert y_rep.std() > mu.std()


@pytest.mark.stan
def test_same_seed_and_inits_give_identical_draws_at_any_parallelism(backend, toy):
    data = toy_data()
    inits = [{"mu": 1.0, "sigma": 1.5}, {"mu": np.float64(5.0), "sigma": np.array(3.0)}]
    runs = [
        backend.sample(
            toy,
            data,
            SamplerSettings(
                num_warmup=200,
                num_samples=100,
                num_chains=2,
                seed=7,
                parallel_chains=parallel,
                progress=False,
            ),
            inits=inits,
        )
        for parallel in (1, 2)
    ]
    np.testing.assert_array_equal(runs[0].values, runs[1].values)
    np.testing.assert_array_equal(runs[0].inv_metric, runs[1].inv_metric)
    # Chains use chain ids 1 and 2, so they differ from each other.
    assert not np.array_equal(runs[0].values[0], runs[0].values[1])
    other = backend.sample(
        toy,
        data,
        SamplerSettings(
            num_warmup=200,
            num_samples=100,
            num_chains=2,
            seed=8,
            progress=False,
        ),
        inits=inits,
    )
    assert not np.array_equal(other.values, runs[0].values)


@pytest.mark.stan
def test_new_data_reuses_the_build(backend, toy):
    built_at = os.stat(toy.record.artifact).st_mtime_ns
    again = backend.compile(TOY, progress=False)
    assert again.record == toy.record
    assert again.handle is toy.handle
    shifted = toy_data(seed=1, mean=-4.0)
    draws = backend.sample(
        again,
        shifted,
        SamplerSettings(
            num_warmup=300,
            num_samples=300,
            num_chains=2,
            seed=1,
            progress=False,
        ),
        inits=None,
    )
    assert draws.column("mu").mean() == pytest.approx(shifted["y"].mean(), abs=1.0)
    assert os.stat(again.record.artifact).st_mtime_ns == built_at


@pytest.mark.stan
def test_log_density_matches_numpy_including_jacobian(backend, toy, toy_draws):
    data = toy_data()
    log_density = backend.log_density(toy, data)
    assert log_density.dim == 2
    assert log_density.unconstrained_names == ["mu", "sigma"]
    for u in ([0.5, 0.1], [3.2, np.log(2.0)], [-10.0, 2.5]):
        u = np.array(u)
        value, gradient = log_density(u)
        assert value == pytest.approx(numpy_log_density(u, data), rel=1e-12)
        assert log_density.log_prob(u) == pytest.approx(value, rel=1e-14)
        step = 1e-6
        numeric = [
            (numpy_log_density(u + step * e, data) - numpy_log_density(u - step * e, data))
            / (2 * step)
            for e in np.eye(2)
        ]
        np.testing.assert_allclose(gradient, numeric, rtol=1e-6)
    # lp__ is the same density (target += keeps every constant).
    row = toy_draws.values[0, 0]
    u = np.array([row[COLUMNS.index("mu")], np.log(row[COLUMNS.index("sigma")])])
    assert log_density(u)[0] == pytest.approx(row[COLUMNS.index("lp__")], rel=1e-12)
    constrained = log_density.write_array(np.array([0.5, 0.1]))
    assert list(constrained) == ["mu", "sigma", "y_rep"]
    assert constrained["sigma"] == pytest.approx(np.exp(0.1))
    with pytest.raises(ValueError, match=r"needs \(2,\)"):
        log_density(np.zeros(3))


@pytest.mark.stan
def test_log_density_from_other_threads(backend, toy):
    log_density = backend.log_density(toy, toy_data())
    expected = log_density(np.array([1.0, 0.3]))
    results = []

    def evaluate():
        results.append(log_density(np.array([1.0, 0.3])))

    threads = [threading.Thread(target=evaluate) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3
    for value, gradient in results:
        assert value == expected[0]
        np.testing.assert_array_equal(gradient, expected[1])


@pytest.mark.stan
def test_short_warmup_still_adapts_the_metric(backend, toy):
    draws = backend.sample(
        toy,
        toy_data(),
        SamplerSettings(
            num_warmup=100,
            num_samples=50,
            num_chains=2,
            seed=3,
            progress=False,
        ),
        inits=None,
    )
    assert np.all(draws.inv_metric != 1.0)
    assert not any("aren't enough warmup" in m for chain in draws.messages for m in chain)


@pytest.mark.stan
def test_seed_range(backend, toy):
    draws = backend.sample(
        toy,
        toy_data(),
        SamplerSettings(
            num_warmup=50,
            num_samples=10,
            num_chains=1,
            seed=2**32 - 1,
            progress=False,
        ),
        inits=None,
    )
    assert draws.values.shape == (1, 10, len(COLUMNS))
    with pytest.raises(ValueError, match=r"seed=4294967296 must be an integer in \[0, 2\*\*32\)"):
        SamplerSettings(num_warmup=50, num_samples=10, num_chains=1, seed=2**32)


@pytest.mark.stan
def test_failing_chain_raises_with_stan_message(backend, toy):
    with pytest.raises(RuntimeError, match=r"chain 2: .*Lower bounded variable is -1") as failure:
        backend.sample(
            toy,
            toy_data(),
            SamplerSettings(
                num_warmup=50,
                num_samples=10,
                num_chains=2,
                seed=1,
                progress=False,
            ),
            inits=[{"mu": 0.0, "sigma": 1.0}, {"mu": 0.0, "sigma": -1.0}],
        )
    assert "chain 1" not in str(failure.value)


#: One chain of 10 warmup and 10 draws: for checks that fail before sampling.
TEN_ITERATIONS = SamplerSettings(
    num_warmup=10, num_samples=10, num_chains=1, seed=1, progress=False
)


@pytest.mark.stan
def test_invalid_arguments_and_data(backend, toy):
    with pytest.raises(ValueError, match="got 1 init dicts for num_chains=2"):
        backend.sample(
            toy,
            toy_data(),
            SamplerSettings(
                num_warmup=10,
                num_samples=10,
                num_chains=2,
                seed=1,
                progress=False,
            ),
            inits=[{}],
        )
    data = {**toy_data(), "mu0": True}
    with pytest.raises(ValueError, match="'mu0' has dtype bool"):
        backend.sample(
            toy,
            data,
            TEN_ITERATIONS,
            inits=None,
        )
    with pytest.raises(RuntimeError, match="variable does not exist.*variable name=mu0"):
        backend.sample(
            toy,
            {"N": 1, "y": np.zeros(1)},
            TEN_ITERATIONS,
            inits=None,
        )


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.stan
def test_progress_bar_on_a_terminal(backend, toy, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    backend.sample(
        toy,
        toy_data(),
        SamplerSettings(
            num_warmup=100,
            num_samples=100,
            num_chains=2,
            seed=1,
            progress=True,
        ),
        inits=None,
    )
    shown = terminal.getvalue()
    assert "Sampling 2 chains" in shown and "400/400" in shown and "\r" in shown
    assert "unite_stan [sample]" not in shown


@pytest.mark.stan
@pytest.mark.parametrize("progress", [True, False])
def test_two_lines_instead_of_a_bar_in_a_log(backend, toy, capsys, progress):
    backend.sample(
        toy,
        toy_data(),
        SamplerSettings(num_warmup=100, num_samples=100, num_chains=2, seed=1, progress=progress),
    )
    started, ended = capsys.readouterr().err.splitlines()
    assert started == "unite_stan [sample] Sampling 2 chains (100 warmup + 100 draws each)…"
    assert re.fullmatch(r"unite_stan \[sample\] Sampled 2 chains in \d+\.\d s", ended)


@pytest.mark.stan
def test_pilot_on_the_compiled_model_then_sample_from_its_inits(backend, toy):
    data = toy_data()
    log_density = backend.log_density(toy, data)
    pilot = laplace_pilot(log_density, [np.zeros(2)])
    assert pilot.kind == "dense", pilot.message
    assert pilot.loc[0] == pytest.approx(data["y"].mean(), abs=0.05)
    assert pilot.chol[0, 0] == pytest.approx(data["y"].std() / np.sqrt(data["N"]), rel=0.1)
    xis = dispersed_inits(pilot, 2, np.random.default_rng(0))
    inits = []
    for xi in xis:
        mu, log_sigma = pilot.unwhiten(xi)
        inits.append({"mu": mu, "sigma": np.exp(log_sigma)})
    draws = backend.sample(
        toy,
        data,
        SamplerSettings(
            num_warmup=200,
            num_samples=200,
            num_chains=2,
            seed=5,
            progress=False,
        ),
        inits=inits,
    )
    assert draws.column("mu").mean() == pytest.approx(pilot.loc[0], abs=0.3)


def test_stanc_error_is_a_value_error_naming_the_line(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path))
    backend = EmbeddedBackend()
    # Put the shim in place and do without the precompiled header, so only stanc runs.
    monkeypatch.setattr(EmbeddedBackend, "_setup", lambda self, progress: _fake_shim_record())
    monkeypatch.setattr(EmbeddedBackend, "_pch", lambda self, progress, cancel=None: None)
    broken = "parameters { real mu; }\nmodel {\n  mu ~ normal(0, 1)\n}\n"
    with pytest.raises(ValueError, match=r"stanc rejected(.|\n)*line 4"):
        backend.compile(broken, progress=False)
    leftovers = [p.name for p in (tmp_path / "embedded").iterdir() if p.suffix != ".lock"]
    assert leftovers == [TOOLCHAIN_FILE]


def test_a_stanc_run_past_its_time_is_a_readable_error(tmp_path, monkeypatch):
    from unite_stan.stan.backends import embedded

    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path))
    monkeypatch.setattr(EmbeddedBackend, "_setup", lambda self, progress: _fake_shim_record())
    monkeypatch.setattr(EmbeddedBackend, "_pch", lambda self, progress, cancel=None: None)
    monkeypatch.setattr(embedded, "STANC_TIMEOUT", 1e-4)
    with pytest.raises(RuntimeError) as refused:
        EmbeddedBackend().compile("parameters { real mu; }\nmodel { mu ~ normal(0, 1); }\n")
    message = str(refused.value)
    assert message.startswith("stanc (--O1) did not finish in 0.0001 s on the Stan program ")
    assert message.endswith(
        "(10 profiles and 10 forms: over 300 s). Fit fewer kinds of component at once; a known "
        "limit of this version"
    )


def _fake_shim_record():
    from unite_stan.stan.backends.base import BuildRecord

    return BuildRecord("0" * 64, "embedded", "", {}, "", 0.0, "/nonexistent/shim.o")


def compile_in_child(root: str) -> tuple[str, str]:
    os.environ[cache.ENV_VAR] = root
    record = EmbeddedBackend().compile(TOY, progress=False).record
    return record.created, record.artifact


@pytest.mark.stan
def test_concurrent_processes_compile_once_and_models_coexist(toy, tmp_path, monkeypatch):
    # Reuse the shim and precompiled header already built for the session (they do not depend
    # on the cache root), so only the toy program itself compiles here.
    shim_key = toy.record.options["shim"]
    (tmp_path / "embedded").mkdir()
    os.symlink(toy.record.directory.parent / shim_key, tmp_path / "embedded" / shim_key)
    pch_entry = EmbeddedBackend()._pch(progress=False).parent
    os.symlink(pch_entry, tmp_path / "embedded" / pch_entry.name)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.map(compile_in_child, [str(tmp_path)] * 2)
    assert results[0] == results[1]
    entries = [p for p in (tmp_path / "embedded").iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(entries) == 1 and results[0][1].startswith(str(entries[0]))

    # The second library of the same program, loaded in this process beside the first.
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path))
    backend = EmbeddedBackend()
    second = backend.compile(TOY, progress=False)
    assert second.record.artifact == results[0][1] != toy.record.artifact
    u = np.array([0.3, 0.2])
    assert backend.log_density(second, toy_data())(u)[0] == pytest.approx(
        backend.log_density(toy, toy_data())(u)[0], rel=1e-14
    )


def test_adaptation_windows_follow_cmdstan():
    assert adaptation_windows(1000) == (75, 50, 25)
    assert adaptation_windows(150) == (75, 50, 25)
    assert adaptation_windows(100) == (15, 10, 75)
    assert adaptation_windows(149) == (22, 14, 113)
    assert adaptation_windows(10) == (75, 50, 25)  # Stan adapts nothing below 20 anyway
    with pytest.raises(ValueError, match="num_warmup=-1"):
        adaptation_windows(-1)


def test_get_backend_names():
    assert get_backend("embedded").name == "embedded"
    with pytest.raises(ValueError, match="unknown Stan backend 'pystan'; valid: auto"):
        get_backend("pystan")


@pytest.mark.stan
def test_dense_and_unit_metrics(backend, toy):
    data = toy_data()
    mean, sd = grid_posterior_mean_sd(data)
    dense, unit = (
        backend.sample(
            toy,
            data,
            SamplerSettings(
                num_warmup=300,
                num_samples=1000,
                num_chains=2,
                seed=3,
                progress=False,
                metric=metric,
            ),
            inits=None,
        )
        for metric in ("dense_e", "unit_e")
    )
    # a dense (2 x 2) inverse metric per chain, symmetric positive definite, adapted from 1
    assert dense.inv_metric.shape == (2, 2, 2)
    for m in dense.inv_metric:
        np.testing.assert_allclose(m, m.T, rtol=1e-12)
        assert np.all(np.linalg.eigvalsh(m) > 0) and np.all(np.diag(m) < 0.5)
    np.testing.assert_array_equal(unit.inv_metric, np.ones((2, 2)))
    for draws in (dense, unit):
        mu = draws.column("mu")
        assert abs(mu.mean() - mean) < 4 * mcse(mu)
    assert not np.array_equal(unit.values, dense.values)


@pytest.mark.stan
def test_a_stop_request_ends_a_running_chain(toy):
    from unite_stan.stan.backends.embedded import _load, _split_data

    _, shim = _load(toy.record.artifact)
    density = shim.Density(*_split_data(toy_data()))
    monitor = shim.Monitor()
    result = {}
    settings = dict(
        metric="diag_e",
        init_names=[],
        init_values=[],
        init_dims=[],
        seed=1,
        chain=1,
        num_warmup=100,
        num_samples=10**7,
        init_radius=2.0,
        stepsize=1.0,
        max_depth=10,
        delta=0.8,
        gamma=0.05,
        kappa=0.75,
        t0=10.0,
        init_buffer=15,
        term_buffer=10,
        window=75,
    )
    thread = threading.Thread(
        target=lambda: result.update(out=density.nuts(monitor=monitor, **settings))
    )
    thread.start()
    while monitor.iterations < 500:
        time.sleep(0.01)
    monitor.request_stop()
    thread.join(timeout=30)
    assert not thread.is_alive()
    out = result["out"]
    assert out.interrupted and out.return_code == 0
    # it stopped at the next iteration, keeping every draw made until then (after 100 warmup)
    n_draws = len(out.draws) // len(out.names)
    assert (
        400 <= n_draws < 10**6 and monitor.iterations - 101 <= n_draws <= monitor.iterations - 100
    )


# --- Damaged cache entries, and a machine without a compiler ---------------------------------


@pytest.fixture
def private_cache(toy, tmp_path, monkeypatch) -> Path:
    """A cache of its own that shares the session's shim and precompiled header (linked, never
    damaged here), so tests may damage their copies of the toy's entry."""
    root = tmp_path / "cache"
    (root / "embedded").mkdir(parents=True)
    shim = toy.record.directory.parent / toy.record.options["shim"]
    pch = EmbeddedBackend()._pch(progress=False).parent
    for entry in (shim, pch):
        os.symlink(entry, root / "embedded" / entry.name)
    monkeypatch.setenv(cache.ENV_VAR, str(root))
    return root


def copy_entry(record, root: Path) -> Path:
    """A copy of ``record``'s entry in the cache ``root``."""
    copy = root / "embedded" / record.directory.name
    shutil.copytree(record.directory, copy)
    return copy


def library(entry: Path) -> Path:
    (path,) = entry.glob("stan_services_*.so")
    return path


@pytest.mark.stan
def test_a_truncated_model_library_is_rebuilt_before_anything_loads_it(toy, private_cache):
    # Loading this library would end the process with a bus error or fail with ImportError.
    entry = copy_entry(toy.record, private_cache)
    size = library(entry).stat().st_size
    os.truncate(library(entry), size // 2)
    with pytest.warns(RuntimeWarning) as warned:
        model = EmbeddedBackend().compile(TOY, progress=False)
    assert [str(w.message) for w in warned] == [
        f"unite_stan: the cached build of Stan program {entry.name} in {entry} is damaged "
        f"({library(entry).name} has {size // 2} bytes where the build record says {size}); "
        "rebuilding it"
    ]
    assert model.record.artifact == str(library(entry))
    assert model.record.artifact_size == library(entry).stat().st_size > 0
    u = np.array([0.3, 0.2])
    assert EmbeddedBackend().log_density(model, toy_data())(u)[0] == pytest.approx(
        EmbeddedBackend().log_density(toy, toy_data())(u)[0], rel=1e-14
    )


def _empty(entry: Path) -> str:
    size = library(entry).stat().st_size
    library(entry).write_bytes(b"")
    return f"{library(entry).name} has 0 bytes where the build record says {size}"


def _remove(entry: Path) -> str:
    name = library(entry).name
    library(entry).unlink()
    return f"{name} is missing"


def _corrupt_record(entry: Path) -> str:
    (entry / "build.json").write_text('{"program_hash": ')
    return (
        "build.json is unreadable (build record is not valid JSON: Expecting value: line 1 "
        "column 18 (char 17))"
    )


@pytest.mark.stan
@pytest.mark.parametrize("damage", [_empty, _remove, _corrupt_record])
def test_damaged_model_entries_are_rebuilt(toy, private_cache, monkeypatch, damage):
    """Emptied, missing, unreadable: detected like the truncated library above, whose rebuild
    is real; here the rebuild copies the session's good library, to spare three compiles."""
    entry = copy_entry(toy.record, private_cache)
    reason = damage(entry)
    good = Path(toy.record.artifact)

    def rebuild(self, workdir, final, **_):
        shutil.copy(good, workdir / good.name)
        return dataclasses.replace(toy.record, artifact=str(final / good.name))

    monkeypatch.setattr(EmbeddedBackend, "_build", rebuild)
    with pytest.warns(RuntimeWarning) as warned:
        model = EmbeddedBackend().compile(TOY, progress=False)
    assert [str(w.message) for w in warned] == [
        f"unite_stan: the cached build of Stan program {entry.name} in {entry} is damaged "
        f"({reason}); rebuilding it"
    ]
    assert model.record.artifact == str(entry / good.name)
    assert model.record.artifact_sha256 == toy.record.artifact_sha256
    assert EmbeddedBackend().log_density(model, toy_data()).dim == 2


@pytest.mark.stan
def test_a_damaged_shim_is_rebuilt(toy, tmp_path, monkeypatch):
    """Detected like a model; the rebuild copies the session's shim (a real one takes minutes
    on two busy cores)."""
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path))
    monkeypatch.setenv("UNITE_STAN_PCH", "0")
    good = toy.record.directory.parent / toy.record.options["shim"]
    entry = tmp_path / "embedded" / good.name
    shutil.copytree(good, entry)
    os.truncate(entry / "unite_stan_shim.o", 100)
    size = (good / "unite_stan_shim.o").stat().st_size

    def rebuild(self, workdir, final, *, key, options, cancel=None):
        shutil.copy(good / "unite_stan_shim.o", workdir)
        return self._record(key, options, time.perf_counter(), final / "unite_stan_shim.o", "", "")

    monkeypatch.setattr(EmbeddedBackend, "_build_shim", rebuild)
    with pytest.warns(RuntimeWarning) as warned:
        shim = EmbeddedBackend()._setup(progress=False)
    assert [str(w.message) for w in warned] == [
        f"unite_stan: the cached build of unite_stan's C++ shim {entry.name} (once per "
        f"toolchain) in {entry} is damaged (unite_stan_shim.o has 100 bytes where the build "
        f"record says {size}); rebuilding it"
    ]
    assert shim.artifact == str(entry / "unite_stan_shim.o")
    assert (entry / "unite_stan_shim.o").read_bytes() == (good / "unite_stan_shim.o").read_bytes()


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_a_truncated_precompiled_header_is_rebuilt(tmp_path, monkeypatch):
    """Real builds, of a small header standing in for Stan's (0.8 GB, a minute or two)."""
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path))
    monkeypatch.setattr(embedded, "_PCH_HEADER", "stan/version.hpp")
    backend = EmbeddedBackend()
    include = backend._pch(progress=False)
    header = include / "stan" / "version.hpp.gch"
    size = header.stat().st_size
    os.truncate(header, size // 3)
    with pytest.warns(RuntimeWarning) as warned:
        assert backend._pch(progress=False) == include
    entry = include.parent
    assert [str(w.message) for w in warned] == [
        f"unite_stan: the cached build of the precompiled Stan header {entry.name} (once per "
        f"machine) in {entry} is damaged (version.hpp.gch has {size // 3} bytes where the "
        f"build record says {size}); rebuilding it"
    ]
    # a new header (gcc writes the build directory into it: not the same bytes), intact
    rebuilt = json.loads((entry / "build.json").read_text())
    assert rebuilt["artifact_size"] == header.stat().st_size > size // 3
    assert rebuilt["artifact_sha256"] == cache.file_sha256(header)


@pytest.fixture
def no_compiler(tmp_path, monkeypatch):
    """PATH without g++ (nor anything else), CXX unset, nothing remembered from this process."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("CXX", raising=False)
    embedded._first_line.cache_clear()
    yield
    embedded._first_line.cache_clear()


INSTALL = (
    "Install g++ (e.g. `apt install g++` or `conda install gxx`), set CXX to an installed "
    "compiler, point UNITE_STAN_CACHE at a cache where the program was built, or use the "
    "CmdStan backend (backend='cmdstan')"
)


def test_without_a_compiler_and_nothing_cached_the_error_says_what_to_do(
    tmp_path, monkeypatch, no_compiler
):
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "cache"))
    with pytest.raises(CompilerNotFoundError) as missing:
        EmbeddedBackend().compile(TOY, progress=False)
    assert str(missing.value) == (
        "the embedded backend needs a C++ compiler, and 'g++' (the CXX setting; default g++) "
        f"cannot be run: [Errno 2] No such file or directory: 'g++'. {INSTALL}"
    )


@pytest.mark.stan
def test_without_a_compiler_a_new_program_says_what_to_do(private_cache, monkeypatch, tmp_path):
    backend = EmbeddedBackend()
    backend.identity()  # a machine with g++ used this cache before
    new = TOY + "// changed\n"
    key = cache.program_hash(
        new, backend.identity(), {**backend.options(), "shim": backend._shim_key()[:16]}
    )
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    embedded._first_line.cache_clear()
    try:
        with pytest.raises(CompilerNotFoundError) as missing:
            EmbeddedBackend().compile(new, progress=False)
    finally:
        embedded._first_line.cache_clear()
    assert str(missing.value) == (
        f"Stan program {key[:16]} is not in the compile cache ({private_cache}) and building "
        "it needs a C++ compiler, and 'g++' (the CXX setting; default g++) cannot be run: not "
        f"found on PATH. {INSTALL}"
    )


LOAD_WITHOUT_COMPILER = """
import sys
import numpy as np
from unite_stan.stan.backends.embedded import EmbeddedBackend
backend = EmbeddedBackend()
model = backend.compile(sys.argv[1], progress=False)
print(repr(backend.log_density(model, {"N": 2, "y": np.array([1.0, 2.0]), "mu0": 0.0})(
    np.array([0.3, 0.2]))[0]))
"""


@pytest.mark.stan
def test_cached_models_load_on_a_machine_without_a_compiler(toy, tmp_path):
    (tmp_path / "bin").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "CXX"}
    env.update(PATH=str(tmp_path / "bin"), PYTHONPATH=str(Path(embedded.__file__).parents[3]))
    run = subprocess.run(
        [sys.executable, "-c", LOAD_WITHOUT_COMPILER, TOY],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "Compiling" not in run.stderr
    expected = EmbeddedBackend().log_density(toy, {"N": 2, "y": np.array([1.0, 2.0]), "mu0": 0.0})
    assert float(run.stdout) == expected(np.array([0.3, 0.2]))[0]


def test_a_failing_compiler_is_named_with_the_setting_and_the_alternatives(tmp_path, monkeypatch):
    compiler = tmp_path / "brokencxx"
    compiler.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = --version ]; then echo "brokencxx 1.0"; exit 0; fi\n'
        'echo "brokencxx: internal error" >&2; exit 4\n'
    )
    compiler.chmod(0o755)
    monkeypatch.setenv("CXX", str(compiler))
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "cache"))
    monkeypatch.setenv("UNITE_STAN_PCH", "0")
    backend = EmbeddedBackend()
    with pytest.raises(RuntimeError) as failure:
        backend.compile(TOY, progress=False)
    message = str(failure.value)
    assert message.startswith(
        f"C++ compilation of unite_stan's C++ shim {backend._shim_key()[:16]} failed (exit code "
        f"4); command:\n{compiler} -O3"
    )
    assert message.endswith(
        "last messages:\nbrokencxx: internal error\n\nIf the compiler is at fault, set CXX (now "
        f"'{compiler}') to another one or use the CmdStan backend (backend='cmdstan')"
    )
