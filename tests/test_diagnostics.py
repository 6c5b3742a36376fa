"""Convergence diagnostics against simulation truth (and arviz, when installed)."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
import xarray as xr

from unite_stan import diagnostics
from unite_stan.draws import Draws


def ar1_chains(phi, n_chains, n_draws, seed, *, means=0.0, scales=1.0):
    """AR(1) chains with stationary start, unit marginal variance, then shifted and scaled."""
    rng = np.random.default_rng(seed)
    innovations = rng.normal(size=(n_chains, n_draws)) * np.sqrt(1 - phi**2)
    x = np.empty((n_chains, n_draws))
    x[:, 0] = rng.normal(size=n_chains)
    for t in range(1, n_draws):
        x[:, t] = phi * x[:, t - 1] + innovations[:, t]
    return np.asarray(means)[..., None] + np.asarray(scales)[..., None] * x


def draws_dataset(**variables):
    return xr.Dataset({name: (("chain", "draw"), x) for name, x in variables.items()})


def test_iid_draws_have_rhat_one_and_full_ess():
    x = np.random.default_rng(0).normal(size=(4, 2000))
    assert abs(diagnostics.rhat(x) - 1) < 0.01
    for ess in (diagnostics.ess_bulk(x), diagnostics.ess_basic(x), diagnostics.ess_tail(x)):
        assert ess == pytest.approx(x.size, rel=0.15)
    assert diagnostics.mcse_mean(x) == pytest.approx(1 / np.sqrt(x.size), rel=0.1)


@pytest.mark.parametrize("phi", [0.5, 0.9])
def test_ar1_ess_matches_theory(phi):
    x = ar1_chains(phi, 4, 5000, seed=1)
    expected = x.size * (1 - phi) / (1 + phi)
    assert diagnostics.ess_basic(x) == pytest.approx(expected, rel=0.2)
    assert diagnostics.ess_bulk(x) == pytest.approx(expected, rel=0.2)
    assert diagnostics.rhat(x) < 1.01


def test_antithetic_chains_are_capped_at_n_log10_n():
    x = ar1_chains(-0.9, 4, 1000, seed=2)
    assert diagnostics.ess_basic(x) <= x.size * np.log10(x.size) + 1e-9
    assert diagnostics.ess_basic(x) > x.size


def test_shifted_chain_means_give_large_rhat():
    x = ar1_chains(0.3, 4, 1000, seed=3, means=[0.0, 0.0, 0.0, 3.0])
    assert diagnostics.rhat(x) > 1.1


def test_chain_with_different_variance_is_caught_by_folded_rhat():
    x = ar1_chains(0.0, 4, 2000, seed=4, scales=[1.0, 1.0, 1.0, 4.0])
    split = diagnostics._split_chains(x)
    bulk = diagnostics._rhat_basic(diagnostics._rank_normalise(split))
    assert bulk < 1.01  # same location: the bulk R-hat alone misses the problem
    assert diagnostics.rhat(x) > 1.05


def test_undefined_statistics_are_nan():
    constant = np.full((4, 100), 2.5)
    short = np.random.default_rng(5).normal(size=(4, 3))
    with_nan = np.random.default_rng(5).normal(size=(4, 100))
    with_nan[0, 3] = np.nan
    for x in (constant, short, with_nan):
        assert np.isnan(diagnostics.rhat(x))
        assert np.isnan(diagnostics.ess_bulk(x))
        assert np.isnan(diagnostics.ess_tail(x))


def test_one_dimensional_input_is_one_chain():
    x = np.random.default_rng(6).normal(size=1000)
    assert diagnostics.ess_bulk(x) == diagnostics.ess_bulk(x[None, :])
    with pytest.raises(ValueError, match=r"shape \(2, 3, 4\)"):
        diagnostics.rhat(np.zeros((2, 3, 4)))


def test_matches_arviz():
    az = pytest.importorskip(
        "arviz", reason="arviz is not installed (optional: only used as a cross-check)"
    )
    for seed, (phi, n_chains, n_draws) in enumerate([(0.0, 4, 500), (0.8, 2, 301), (-0.5, 3, 99)]):
        x = ar1_chains(phi, n_chains, n_draws, seed=seed, means=np.arange(n_chains) * 0.1)
        x = x + np.random.default_rng(seed).standard_t(3, size=x.shape)
        assert diagnostics.rhat(x) == pytest.approx(float(az.rhat(x, method="rank")), rel=1e-6)
        assert diagnostics.ess_bulk(x) == pytest.approx(float(az.ess(x, method="bulk")), rel=1e-6)
        assert diagnostics.ess_tail(x) == pytest.approx(float(az.ess(x, method="tail")), rel=1e-6)


def test_summary_columns_and_values():
    rng = np.random.default_rng(7)
    ds = draws_dataset(
        flux_Ha=rng.normal(3.0, 0.5, size=(2, 500)), norm_wav_a=np.full((2, 500), 6642.3)
    )
    ds["width"] = (("chain", "draw", "line"), rng.normal(size=(2, 500, 2)))
    ds = ds.assign_coords(line=["Ha", "NII_6585"])
    table = diagnostics.summary(ds)
    assert table.colnames == [
        "name",
        "mean",
        "sd",
        "q5",
        "q50",
        "q95",
        "r_hat",
        "ess_bulk",
        "ess_tail",
    ]
    assert list(table["name"]) == ["flux_Ha", "norm_wav_a", "width[Ha]", "width[NII_6585]"]
    row = table[0]
    flux = ds["flux_Ha"].values
    assert row["mean"] == pytest.approx(flux.mean())
    assert row["q95"] == pytest.approx(np.quantile(flux, 0.95))
    assert row["r_hat"] == pytest.approx(diagnostics.rhat(flux))
    fixed = table[1]
    assert fixed["mean"] == pytest.approx(6642.3)
    assert np.isnan(fixed["r_hat"]) and np.isnan(fixed["ess_bulk"])


def test_summary_defaults_to_free_parameters_and_skips_sampler_stats():
    rng = np.random.default_rng(8)
    ds = draws_dataset(a=rng.normal(size=(2, 100)), b=rng.normal(size=(2, 100)))
    ds["diverging"] = (("chain", "draw"), np.zeros((2, 100), bool))
    assert list(diagnostics.summary(ds)["name"]) == ["a", "b"]
    ds.attrs["free_parameters"] = ["b"]
    assert list(diagnostics.summary(ds)["name"]) == ["b"]
    with pytest.raises(ValueError, match="'c' is not in the dataset"):
        diagnostics.summary(ds, ["c"])


def test_check_convergence_names_variable_and_number():
    good = np.random.default_rng(9).normal(size=(4, 1000))
    stuck = ar1_chains(0.99, 4, 1000, seed=9, means=[0.0, 0.0, 0.0, 5.0])
    ds = draws_dataset(good=good, stuck=stuck)
    diverging = np.zeros((4, 1000), bool)
    diverging[1, :7] = True
    ds["diverging"] = (("chain", "draw"), diverging)
    ds["tree_depth"] = (("chain", "draw"), np.where(np.arange(1000) < 3, 10, 5) * np.ones((4, 1)))
    ds.attrs["max_treedepth"] = 10

    problems = diagnostics.check_convergence(ds)
    text = "\n".join(problems)
    assert "good" not in text
    rhat = diagnostics.rhat(stuck)
    assert f"R-hat of stuck is {rhat:.4f}" in text
    assert f"bulk ESS of stuck is {diagnostics.ess_bulk(stuck):.0f}" in text
    assert "should be >= 400" in text
    assert "7 of 4000 transitions (0.2%) were divergent" in text
    assert "12 of 4000 transitions hit the maximum tree depth of 10" in text


def test_check_convergence_thresholds_and_clean_run():
    ds = draws_dataset(x=np.random.default_rng(10).normal(size=(2, 1000)))
    assert diagnostics.check_convergence(ds) == []
    problems = diagnostics.check_convergence(ds, min_ess_per_chain=5000)
    assert [p.split(" is ")[0] for p in problems] == ["bulk ESS of x", "tail ESS of x"]


def test_convergence_statistics_are_what_check_convergence_judges():
    stuck = ar1_chains(0.99, 4, 1000, seed=9, means=[0.0, 0.0, 0.0, 5.0])
    bad = np.random.default_rng(3).normal(size=(4, 1000))
    bad[2, 10] = np.nan
    ds = draws_dataset(stuck=stuck, bad=bad)
    stats = diagnostics.convergence_statistics(ds)
    assert list(stats) == ["stuck", "bad"]
    assert stats["stuck"]["rhat"] == diagnostics.rhat(stuck)
    assert stats["stuck"]["ess_bulk"] == diagnostics.ess_bulk(stuck)
    assert stats["stuck"]["ess_tail"] == diagnostics.ess_tail(stuck)
    assert stats["bad"]["non_finite"] == 1 and stats["bad"]["size"] == 4000
    assert np.isnan(stats["bad"]["rhat"])
    assert diagnostics.check_convergence(ds, statistics=stats) == diagnostics.check_convergence(ds)
    assert "bad has 1 non-finite draws out of 4000" in diagnostics.check_convergence(ds)
    # the statistics are what is judged: made-up ones give their own verdict
    fake = {"stuck": {**stats["stuck"], "rhat": 1.5}}
    assert diagnostics.check_convergence(ds, statistics=fake, min_ess_per_chain=0) == [
        "R-hat of stuck is 1.5000 (should be <= 1.01)"
    ]


def test_warn_convergence_issues_one_warning():
    stuck = ar1_chains(0.99, 2, 500, seed=11, means=[0.0, 4.0])
    ds = draws_dataset(stuck=stuck)
    with pytest.warns(UserWarning, match="convergence problem") as record:
        problems = diagnostics.warn_convergence(ds, rhat_max=1.05)
    assert len(record) == 1
    assert all(problem in str(record[0].message) for problem in problems)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clean = draws_dataset(x=np.random.default_rng(12).normal(size=(4, 1000)))
        assert diagnostics.warn_convergence(clean) == []


def test_average_ranks_match_scipy_rankdata_with_ties():
    from scipy.stats import rankdata

    from unite_stan.diagnostics import _average_ranks

    rng = np.random.default_rng(3)
    for x in (rng.normal(size=500), rng.integers(0, 4, size=500).astype(float), np.ones(5)):
        np.testing.assert_allclose(_average_ranks(x), rankdata(x))


# ---- numpy draws (unite_stan.draws) --------------------------------------------------------


def mixed_dataset():
    """Draws with every feature the container keeps: extra dimensions with and without
    coordinates, a non-dimension coordinate, variable attributes and dataset attributes."""
    stuck = ar1_chains(0.99, 4, 400, seed=13, means=[0.0, 0.0, 0.0, 5.0])
    rng = np.random.default_rng(13)
    ds = draws_dataset(good=rng.normal(size=(4, 400)), stuck=stuck)
    ds["width"] = (("draw", "line", "chain"), rng.normal(size=(400, 2, 4)))
    ds["offset"] = (("chain", "draw", "k"), rng.normal(size=(4, 400, 3)))
    ds["diverging"] = (("chain", "draw"), rng.uniform(size=(4, 400)) < 0.01)
    depth = np.where(np.arange(400) < 5, 10, 4) * np.ones((4, 1), int)
    ds["tree_depth"] = (("chain", "draw"), depth, {"max_treedepth": 10})
    ds = ds.assign_coords(line=["Ha", "NII_6585"], chain_label=("chain", list("abcd")))
    ds.attrs.update({"seed": 3, "free_parameters": ["good", "stuck", "width", "offset"]})
    return ds


def test_draws_round_trip_is_identical():
    ds = mixed_dataset()
    draws = Draws.from_dataset(ds)
    again = draws.to_dataset()
    assert again.identical(ds)
    assert Draws.from_dataset(again).to_dataset().identical(ds)
    assert draws.sizes == dict(ds.sizes)
    assert draws.dims("width") == ("draw", "line", "chain")
    assert draws.var_attrs("tree_depth") == {"max_treedepth": 10} and draws.var_attrs("good") == {}
    assert "line" in draws and "width" in draws and "missing" not in draws
    np.testing.assert_array_equal(draws["line"], ["Ha", "NII_6585"])
    assert draws["stuck"] is ds["stuck"].values  # shared, not copied


def test_diagnostics_agree_on_draws_and_dataset():
    ds = mixed_dataset()
    draws = Draws.from_dataset(ds)
    problems = diagnostics.check_convergence(ds)
    assert problems == diagnostics.check_convergence(draws)
    assert any("hit the maximum tree depth of 10" in p for p in problems)  # variable attribute
    assert any("R-hat of stuck" in p for p in problems)
    names = ["width", "offset"]
    assert diagnostics.check_convergence(ds, names) == diagnostics.check_convergence(draws, names)
    table, same = diagnostics.summary(ds), diagnostics.summary(draws)
    assert list(table["name"])[2:5] == ["width[Ha]", "width[NII_6585]", "offset[0]"]
    assert table.colnames == same.colnames
    for column in table.colnames:
        np.testing.assert_array_equal(table[column], same[column])
    del ds.attrs["free_parameters"]
    assert list(diagnostics.summary(ds)["name"]) == list(
        diagnostics.summary(Draws.from_dataset(ds))["name"]
    )


def test_fit_and_table_modules_do_not_import_xarray():
    code = (
        "import sys\n"
        "import unite_stan, unite_stan.results, unite_stan.model, unite_stan.stan.run\n"
        "import unite_stan.diagnostics, unite_stan.draws\n"
        "print(sorted({'xarray', 'pandas'} & set(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
