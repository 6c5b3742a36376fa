"""Fit settings: validated once, with messages that name the value (no compiler needed)."""

from __future__ import annotations

import pytest

from unite_stan.stan.backends import base
from unite_stan.stan.backends.base import Backend
from unite_stan.stan.settings import ADAPT_DELTA_LADDER, FitSettings, SamplerSettings

VALID = {"num_warmup": 100, "num_samples": 100, "num_chains": 2, "seed": 1}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"num_warmup": -1}, "num_warmup=-1 must be a non-negative integer"),
        ({"num_samples": 0}, "num_samples=0 must be a positive integer"),
        ({"num_chains": 2.0}, "num_chains=2.0 must be a positive integer"),
        ({"num_chains": True}, "num_chains=True must be a positive integer"),
        ({"seed": -3}, "seed=-3 must be an integer in [0, 2**32)"),
        ({"seed": 2**32}, "seed=4294967296 must be an integer in [0, 2**32)"),
        ({"adapt_delta": 1.0}, "adapt_delta=1.0: must be in (0, 1)"),
        ({"adapt_delta": "high"}, "adapt_delta='high': must be in (0, 1)"),
        ({"max_treedepth": 0}, "max_treedepth=0: must be an integer >= 1"),
        (
            {"metric": "dense"},
            "metric='dense' is not a Stan metric; valid: diag_e, dense_e, unit_e",
        ),
        ({"parallel_chains": 0}, "parallel_chains=0: must be >= 1 or None"),
        ({"threads_per_chain": 0}, "threads_per_chain=0: must be a positive integer"),
    ],
)
def test_sampler_settings_name_the_bad_value(change, message):
    with pytest.raises(ValueError) as refused:
        SamplerSettings(**{**VALID, **change})
    assert str(refused.value) == message


def test_replace_validates_again_and_numpy_integers_become_ints():
    import numpy as np

    settings = SamplerSettings(**{**VALID, "seed": np.int64(7)})
    assert type(settings.seed) is int and settings.seed == 7
    assert settings.replace(adapt_delta=0.95).adapt_delta == 0.95
    with pytest.raises(ValueError, match=r"adapt_delta=0: must be in \(0, 1\)"):
        settings.replace(adapt_delta=0)


def test_chains_at_once_follow_the_cores(monkeypatch):
    monkeypatch.setattr(base, "available_cores", lambda: 8)
    assert SamplerSettings(**{**VALID, "num_chains": 4}).chains_at_once == 4
    assert SamplerSettings(**{**VALID, "num_chains": 4, "threads_per_chain": 4}).chains_at_once == 2
    assert SamplerSettings(**{**VALID, "num_chains": 4, "parallel_chains": 1}).chains_at_once == 1


def test_fit_settings_check_backend_start_values_and_ladder():
    sampler = SamplerSettings(**VALID)
    assert FitSettings(sampler).ladder == ADAPT_DELTA_LADDER == (0.8, 0.95, 0.99)
    assert FitSettings(sampler, adapt_delta=0.9).ladder == (0.9,)
    with pytest.raises(ValueError) as refused:
        FitSettings(sampler, backend="pystan")
    assert str(refused.value) == "unknown Stan backend 'pystan'; valid: auto, embedded, cmdstan"
    with pytest.raises(ValueError) as refused:
        FitSettings(sampler, init_values={"z_narrow": "zero"})
    assert str(refused.value) == (
        "init value for 'z_narrow' is 'zero': must be a number in the parameter's units"
    )
    with pytest.raises(ValueError, match=r"adapt_delta=1.5: must be in \(0, 1\)"):
        FitSettings(sampler, adapt_delta=1.5)
    frozen = FitSettings(sampler, init_values={"z_narrow": 1})
    assert dict(frozen.init_values) == {"z_narrow": 1.0}
    with pytest.raises(TypeError):
        frozen.init_values["z_narrow"] = 2.0


class _DiagonalOnly(Backend):
    """The interface's own checks, before any backend runs (nothing is built or sampled)."""

    name = "diagonal-only"
    metrics = ("diag_e",)

    def identity(self):
        return ""

    def compile(self, code, *, progress=True):
        raise AssertionError("not reached")

    def log_density(self, model, data):
        raise AssertionError("not reached")

    def _sample(self, model, data, settings, inits):
        return settings


def test_backend_sample_checks_metric_and_inits_and_resolves_parallel_chains(monkeypatch):
    monkeypatch.setattr(base, "available_cores", lambda: 2)
    backend = _DiagonalOnly()
    with pytest.raises(ValueError) as refused:
        backend.sample(None, {}, SamplerSettings(**VALID, metric="dense_e"))
    assert str(refused.value) == (
        "metric='dense_e' is not available on the diagonal-only backend; valid: diag_e"
    )
    with pytest.raises(ValueError) as refused:
        backend.sample(None, {}, SamplerSettings(**VALID), inits=[{}])
    assert str(refused.value) == "got 1 init dicts for num_chains=2: need one per chain"
    assert backend.sample(None, {}, SamplerSettings(**VALID)).parallel_chains == 2


def test_warm_retry_keeps_every_point_and_folds_the_metric_into_the_coordinates():
    import numpy as np

    from unite_stan.stan.backends.base import RawDraws
    from unite_stan.stan.stages.sample import RETRY_WARMUP, warm_retry

    class Program:
        free_sites = ["a", "b"]

        def __init__(self, loc, chol):
            self.data = {"coord_loc": loc, "coord_chol": chol}

        def with_coordinates(self, loc, chol):
            return Program(loc, chol)

    loc, chol = np.array([1.0, -2.0]), np.array([[2.0, 0.0], [0.5, 3.0]])
    rng = np.random.default_rng(1)
    values = rng.normal(size=(2, 5, 2))
    raw = RawDraws(
        columns=["xi.1", "xi.2"],
        values=values,
        step_size=np.array([0.5, 0.6]),
        inv_metric=np.array([[4.0, 0.25], [4.0, 0.25]]),
        warmup_seconds=np.zeros(2),
        sampling_seconds=np.zeros(2),
        seed=1,
        backend="embedded",
    )
    settings = SamplerSettings(num_warmup=500, num_samples=100, num_chains=2, seed=1)
    program, rescaled, inits, retry = warm_retry(Program(loc, chol), raw, settings)
    np.testing.assert_allclose(program.data["coord_chol"], chol * np.array([2.0, 0.5]))
    # every draw (not only the last) moves to the new coordinates, the same points in u
    new_chol = program.data["coord_chol"]
    np.testing.assert_allclose(
        rescaled.values @ new_chol.T, values @ chol.T, rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(rescaled.inv_metric, 1.0)
    assert raw.values is values  # the run itself is left as it was
    assert retry.metric == "unit_e" and retry.num_warmup == RETRY_WARMUP
    assert retry.num_samples == 100 and retry.seed == 1
    for c in range(2):
        before = loc + chol @ values[c, -1]
        after = program.data["coord_loc"] + program.data["coord_chol"] @ inits[c]["xi"]
        np.testing.assert_allclose(after, before, rtol=1e-12)
    # a short warmup or another metric: retried as it was, from the last draws
    short = settings.replace(num_warmup=100)
    same, kept, inits, again = warm_retry(Program(loc, chol), raw, short)
    assert again == short and same.data["coord_chol"] is chol and kept is raw
    np.testing.assert_array_equal(inits[1]["xi"], values[1, -1])


def _raw(values, seed=1):
    import numpy as np

    from unite_stan.stan.backends.base import RawDraws

    n = len(values)
    return RawDraws(
        columns=["xi.1", "divergent__"],
        values=np.asarray(values, dtype=float),
        step_size=np.arange(n, dtype=float) + 0.5,
        inv_metric=np.ones((n, 1)) * (np.arange(n)[:, None] + 1),
        warmup_seconds=np.full(n, 1.0),
        sampling_seconds=np.full(n, 2.0),
        seed=seed,
        backend="embedded",
        messages=[[f"chain {c + 1}"] for c in range(n)],
    )


def test_merge_chains_replaces_only_the_retried_chains():
    import numpy as np

    from unite_stan.stan.stages.sample import merge_chains

    first = _raw(np.arange(4 * 3 * 2).reshape(4, 3, 2))
    retry = _raw(-np.arange(2 * 3 * 2).reshape(2, 3, 2) - 1)
    merged = merge_chains(first, retry, [1, 3])
    np.testing.assert_array_equal(merged.values[[0, 2]], first.values[[0, 2]])
    np.testing.assert_array_equal(merged.values[[1, 3]], retry.values)
    np.testing.assert_array_equal(merged.step_size, [0.5, 0.5, 2.5, 1.5])
    np.testing.assert_array_equal(merged.inv_metric[:, 0], [1.0, 1.0, 3.0, 2.0])
    assert merged.messages == [["chain 1"], ["chain 1"], ["chain 3"], ["chain 2"]]
    assert first.values[1, 0, 0] == 6.0  # the first run is not changed
    with pytest.raises(ValueError) as refused:
        merge_chains(first, _raw(np.zeros((1, 5, 2))), [0])
    assert str(refused.value) == (
        "cannot merge values of shape (1, 5, 2) into (4, 3, 2): the retry ran another program"
    )


def test_retry_seeds_differ_from_the_fit_seed_and_from_each_other():
    from unite_stan.stan.stages.sample import retry_seed

    seeds = {retry_seed(7, tries) for tries in (2, 3)} | {7}
    assert len(seeds) == 3 and all(0 <= s < 2**32 for s in seeds)
    assert retry_seed(7, 2) == retry_seed(7, 2)
