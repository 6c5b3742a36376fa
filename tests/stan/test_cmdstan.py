"""CmdStan backend: selection and name conversion everywhere; sampling only with CmdStan."""

from __future__ import annotations

import numpy as np
import pytest

from unite_stan.stan.backends import cmdstan_available, get_backend
from unite_stan.stan.backends.base import SAMPLER_COLUMNS
from unite_stan.stan.backends.cmdstan import flat_column_name

AVAILABLE, REASON = cmdstan_available()
needs_cmdstan = pytest.mark.skipif(not AVAILABLE, reason=f"CmdStan not installed: {REASON}")

PROGRAM = """data { int<lower=0> N; vector[N] y; }
parameters { vector[2] xi; real<lower=0> sigma; }
model {
  xi ~ normal(0, 10);
  sigma ~ lognormal(0, 1);
  y ~ normal(xi[1] + xi[2], sigma);
}
"""


@pytest.mark.parametrize(
    ("cmdstan", "httpstan"),
    [("lp__", "lp__"), ("xi[1]", "xi.1"), ("m[2,13]", "m.2.13"), ("z_narrow", "z_narrow")],
)
def test_flat_column_name(cmdstan, httpstan):
    assert flat_column_name(cmdstan) == httpstan


def test_auto_picks_cmdstan_only_when_installed(monkeypatch):
    monkeypatch.delenv("UNITE_STAN_BACKEND", raising=False)
    assert get_backend("auto").name == ("cmdstan" if AVAILABLE else "embedded")


def test_environment_variable_sets_what_auto_means(monkeypatch):
    monkeypatch.setenv("UNITE_STAN_BACKEND", "embedded")
    assert get_backend("auto").name == "embedded"
    monkeypatch.setenv("UNITE_STAN_BACKEND", "stan")
    with pytest.raises(
        ValueError,
        match="UNITE_STAN_BACKEND='stan' is not a Stan backend; valid: auto, embedded, cmdstan",
    ):
        get_backend("auto")


@pytest.mark.skipif(AVAILABLE, reason="CmdStan is installed here")
def test_cmdstan_without_installation_says_how_to_install():
    with pytest.raises(RuntimeError) as missing:
        get_backend("cmdstan")
    message = str(missing.value)
    assert "python -m cmdstanpy.install_cmdstan" in message
    assert REASON in message and "backend='embedded'" in message


@needs_cmdstan
@pytest.mark.cmdstan
@pytest.mark.stan
def test_cmdstan_sampling_matches_the_raw_draws_contract():
    backend = get_backend("cmdstan")
    model = backend.compile(PROGRAM, progress=False)
    assert backend.compile(PROGRAM, progress=False).record == model.record
    data = {"N": 20, "y": np.random.default_rng(0).normal(1.0, 0.5, 20)}
    inits = [{"xi": np.array([0.5, 0.5]), "sigma": 1.0}] * 2
    run = [
        backend.sample(
            model,
            data,
            num_warmup=200,
            num_samples=100,
            num_chains=2,
            seed=3,
            inits=inits,
            progress=False,
        )
        for _ in range(2)
    ]
    draws = run[0]
    assert draws.columns == [*SAMPLER_COLUMNS, "xi.1", "xi.2", "sigma"]
    assert draws.values.shape == (2, 100, 10)
    assert draws.step_size.shape == (2,) and draws.inv_metric.shape == (2, 3)
    np.testing.assert_array_equal(draws.values, run[1].values)
    total = draws.column("xi.1") + draws.column("xi.2")
    assert total.mean() == pytest.approx(data["y"].mean(), abs=0.3)
    log_density = backend.log_density(model, data)
    assert log_density.dim == 3
    row = draws.values[0, 0]
    u = np.array([row[7], row[8], np.log(row[9])])
    assert log_density(u)[0] == pytest.approx(row[0], rel=1e-6)


def test_embedded_backend_refuses_an_unknown_metric_clearly():
    backend = get_backend("embedded")
    with pytest.raises(
        ValueError,
        match="metric='dense' is not available on the embedded backend; valid: diag_e, "
        "dense_e, unit_e",
    ):
        backend.sample(
            None,
            {},
            num_warmup=10,
            num_samples=10,
            num_chains=1,
            seed=1,
            inits=None,
            metric="dense",
        )
