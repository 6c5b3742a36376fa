"""unite_stan.calibration: the numpy parts of the calibration study (no Stan compile)."""

import math
import re
from types import SimpleNamespace

import astropy.units as u
import numpy as np
import pytest

from unite_stan import calibration
from unite_stan.prior import Fixed, Parameter, TruncatedNormal, Uniform
from unite_stan.prior_graph import PriorGraph

# ---- ranks ---------------------------------------------------------------------------------


def test_sbc_rank_counts_thinned_draws_below_the_truth():
    draws = np.arange(1980.0)  # thinned every 20th: 0, 20, ..., 1960
    assert calibration.sbc_rank(draws, 100.5, 99) == 6  # 0, 20, 40, 60, 80, 100
    assert calibration.sbc_rank(draws, 100.0, 99) == 5  # 100 itself is not below
    assert calibration.sbc_rank(draws, -1.0, 99) == 0
    assert calibration.sbc_rank(draws, 1e9, 99) == 99
    # 2000 draws: step 20, the first 99 multiples (the last 20 draws are not used)
    assert calibration.sbc_rank(np.arange(2000.0), 1965.0, 99) == 99


def test_sbc_rank_rejects_too_few_draws():
    with pytest.raises(ValueError, match=re.escape("50 draws cannot be thinned to n_ranks=99")):
        calibration.sbc_rank(np.zeros(50), 0.0, 99)
    with pytest.raises(ValueError, match=re.escape("n_ranks=0: must be an integer >= 1")):
        calibration.sbc_rank(np.zeros(50), 0.0, 0)


def test_ranks_of_truths_from_the_posterior_are_uniform():
    # truth and draws from the same distribution: the calibrated case
    rng = np.random.default_rng(3)
    ranks = [calibration.sbc_rank(rng.normal(size=990), rng.normal(), 99) for _ in range(1000)]
    counts, p = calibration.uniformity_pvalue(ranks, 99, 10)
    assert counts.sum() == 1000
    assert p > 0.01
    # an overconfident posterior (draws too narrow) piles ranks at both ends
    ranks = [
        calibration.sbc_rank(0.5 * rng.normal(size=990), rng.normal(), 99) for _ in range(1000)
    ]
    counts, p = calibration.uniformity_pvalue(ranks, 99, 10)
    assert p < 1e-6
    assert counts[0] > 2 * counts[5] and counts[-1] > 2 * counts[5]


# ---- uniformity ----------------------------------------------------------------------------


def _chi2_sf_odd(x: float, dof: int) -> float:
    """Chi-square survival function for odd ``dof`` in closed form (independent of scipy)."""
    total, term = 0.0, math.sqrt(2 * x / math.pi) * math.exp(-x / 2)
    for k in range(1, (dof - 1) // 2 + 1):
        total += term
        term *= x / (2 * k + 1)
    return math.erfc(math.sqrt(x / 2)) + total


def test_uniformity_pvalue_of_known_counts():
    # 200 ranks in 10 bins of 10 rank values: counts 30, 10, then 20 each
    ranks = [0] * 30 + [10] * 10 + [r * 10 + 3 for r in range(2, 10) for _ in range(20)]
    counts, p = calibration.uniformity_pvalue(ranks, 99, 10)
    assert counts.tolist() == [30, 10] + [20] * 8
    # chi2 = (10^2 + 10^2) / 20 = 10 with 9 degrees of freedom
    assert p == pytest.approx(_chi2_sf_odd(10.0, 9), rel=1e-9)
    assert p == pytest.approx(0.35048, abs=1e-5)
    flat, p_flat = calibration.uniformity_pvalue(list(range(100)) * 2, 99, 10)
    assert flat.tolist() == [20] * 10 and p_flat == 1.0


def test_uniformity_rejects_uneven_bins_and_bad_ranks():
    with pytest.raises(
        ValueError, match=re.escape("n_bins=7 must divide the 100 rank values 0..99 evenly")
    ):
        calibration.uniformity_pvalue([1, 2], 99, 7)
    with pytest.raises(ValueError, match=re.escape("ranks must lie in 0..99; got 0..100")):
        calibration.uniformity_pvalue([0, 100], 99, 10)


def test_rank_band_holds_99_percent_of_a_bin_count():
    lo, hi = calibration.rank_band(200, 10, 0.99)

    def pmf(k):
        return math.comb(200, k) * 0.1**k * 0.9 ** (200 - k)

    inside = sum(pmf(k) for k in range(lo, hi + 1))
    assert inside >= 0.99
    # the band is the central one: each tail outside it holds at most 0.5 %
    assert sum(pmf(k) for k in range(lo)) <= 0.005
    assert sum(pmf(k) for k in range(hi + 1, 201)) <= 0.005
    assert (lo, hi) == (10, 32)


# ---- coverage ------------------------------------------------------------------------------


def test_interval_covers_central_interval():
    draws = np.linspace(0.0, 1.0, 1001)  # quantile q is q itself
    assert calibration.interval_covers(draws, 0.16, 0.68)
    assert calibration.interval_covers(draws, 0.84, 0.68)
    assert not calibration.interval_covers(draws, 0.159, 0.68)
    assert not calibration.interval_covers(draws, 0.841, 0.68)
    assert calibration.interval_covers(draws, 0.03, 0.95)
    assert not calibration.interval_covers(draws, 0.02, 0.95)
    with pytest.raises(ValueError, match=re.escape("level=1.2: must lie strictly between 0 and 1")):
        calibration.interval_covers(draws, 0.5, 1.2)


def test_coverage_band_is_two_binomial_sigmas():
    lo, hi = calibration.coverage_band(0.95, 200)
    sigma = math.sqrt(0.95 * 0.05 / 200)  # 0.01541
    assert (lo, hi) == pytest.approx((0.95 - 2 * sigma, 0.95 + 2 * sigma))
    assert (lo, hi) == pytest.approx((0.91918, 0.98082), abs=1e-5)
    with pytest.raises(ValueError, match=re.escape("n=0: need at least one fit")):
        calibration.coverage_band(0.68, 0)


def test_calibrated_gaussian_posterior_covers_at_nominal_rate():
    # conjugate normal model: prior N(0, 1), datum y ~ N(theta, 1), posterior N(y/2, 1/2)
    rng = np.random.default_rng(11)
    hits = {0.68: 0, 0.95: 0}
    n = 2000
    for _ in range(n):
        theta = rng.normal()
        y = theta + rng.normal()
        draws = y / 2 + math.sqrt(0.5) * rng.normal(size=2000)
        for q in hits:
            hits[q] += calibration.interval_covers(draws, theta, q)
    for q, k in hits.items():
        lo, hi = calibration.coverage_band(q, n, n_sigma=3)
        assert lo <= k / n <= hi


def test_rank_coverage_weighs_the_boundary_ranks():
    every = np.arange(100)  # each rank once: exactly uniform
    for q in (0.5, 0.68, 0.9, 0.95):
        assert calibration.rank_coverage(every, q) == pytest.approx(q, abs=1e-12)
    # 95 % of 100 cells: ranks 3-96 inside, 2 and 97 by half, 0, 1, 98, 99 outside
    assert [calibration.rank_coverage([r], 0.95) for r in (1, 2, 3, 96, 97, 98)] == [
        0.0, 0.5, 1.0, 1.0, 0.5, 0.0,
    ]  # fmt: skip
    assert [calibration.rank_coverage([r], 0.68) for r in (15, 16, 83, 84)] == [0, 1, 1, 0]
    with pytest.raises(ValueError, match=re.escape("level=1.0: must lie strictly between")):
        calibration.rank_coverage(every, 1.0)
    with pytest.raises(ValueError, match=re.escape("ranks must be integers in 0..99")):
        calibration.rank_coverage([100], 0.68)
    with pytest.raises(ValueError, match=re.escape("no ranks given")):
        calibration.rank_coverage([], 0.68)


def _study(rng, n, ranks_of):
    """Ranks and rank coverage of a synthetic study: ``ranks_of(rng, n)`` -> {name: ranks}."""
    ranks = ranks_of(rng, n)
    coverage = {
        name: {q: calibration.rank_coverage(r, q) for q in (0.68, 0.95)}
        for name, r in ranks.items()
    }
    return ranks, coverage


def _correlated(rng, n, k=6):
    """Calibrated ranks of ``k`` parameters whose posteriors' truths move together (a shared
    normal factor, correlation 0.5): each margin uniform on 0..99."""
    from scipy.stats import norm

    shared = rng.normal(size=(n, 1))
    z = (shared + rng.normal(size=(n, k))) / math.sqrt(2)
    ranks = np.minimum((norm.cdf(z) * 100).astype(int), 99)
    return {f"p{j}": ranks[:, j] for j in range(k)}


def test_familywise_test_rejects_a_calibrated_method_at_its_nominal_rate():
    rng = np.random.default_rng(3)
    p_max, p_count = [], []
    for i in range(300):
        ranks, coverage = _study(rng, 200, _correlated)
        t = calibration.familywise_coverage_test(ranks, coverage, n_boot=400, seed=i)
        p_max.append(t["p_max_z"])
        p_count.append(t["p_outside"])
        assert t["checks"] == 12 and t["fits"] == 200
    # 5 % of 300 studies: 15 expected, binomial 3 sigma 11.3
    assert 4 <= sum(p < 0.05 for p in p_max) <= 27
    assert sum(p < 0.05 for p in p_count) <= 27  # discrete: at most nominal


def test_familywise_test_finds_intervals_that_are_too_narrow():
    def narrow(rng, n):  # one parameter's posteriors 30 % too narrow: ranks pile at the ends
        ranks = _correlated(rng, n)
        from scipy.stats import norm

        ranks["p0"] = np.minimum((norm.cdf(rng.normal(size=n) * 1.3) * 100).astype(int), 99)
        return ranks

    ranks, coverage = _study(np.random.default_rng(4), 1000, narrow)
    t = calibration.familywise_coverage_test(ranks, coverage, n_boot=2000)
    assert t["p_max_z"] < 0.01
    assert {(name, q) for name, q, _ in t["outside"]} >= {("p0", 0.68), ("p0", 0.95)}
    assert all(z < -2 for name, _, z in t["outside"] if name == "p0")


def test_familywise_test_counts_dependent_checks_once():
    # a parameter checked twice under two names: twice the checks outside on average, but the
    # largest |z| (and so the family-wise p-value) is that of one parameter
    ranks, coverage = _study(np.random.default_rng(5), 500, lambda rng, n: _correlated(rng, n, 1))
    one = calibration.familywise_coverage_test(ranks, coverage, n_boot=4000)
    twice = calibration.familywise_coverage_test(
        {**ranks, "copy": ranks["p0"]}, {**coverage, "copy": coverage["p0"]}, n_boot=4000
    )
    assert twice["checks"] == 2 * one["checks"] == 4
    assert twice["expected_outside"] == pytest.approx(2 * one["expected_outside"], rel=0.15)
    assert twice["max_abs_z"] == one["max_abs_z"]
    assert twice["p_max_z"] == pytest.approx(one["p_max_z"], abs=0.03)
    # the same seed gives the same result
    assert calibration.familywise_coverage_test(ranks, coverage, n_boot=4000) == one


def test_familywise_test_errors():
    ranks = {"a": [1, 2, 3], "b": [4, 5, 6]}
    cov = {"a": {0.68: 0.7}, "b": {0.68: 0.6}}
    test = calibration.familywise_coverage_test
    with pytest.raises(ValueError, match=re.escape("ranks is empty")):
        test({}, {})
    with pytest.raises(
        ValueError,
        match=re.escape("ranks has parameters ['a', 'b'] but coverage has ['a']: they must"),
    ):
        test(ranks, {"a": cov["a"]})
    with pytest.raises(
        ValueError, match=re.escape("every parameter needs one rank per fit; got {'a': 3, 'b': 2}")
    ):
        test({"a": [1, 2, 3], "b": [4, 5]}, cov)
    with pytest.raises(ValueError, match=re.escape("1 fit(s): the test needs at least 2")):
        test({"a": [1], "b": [2]}, cov)
    with pytest.raises(ValueError, match=re.escape("ranks must be integers in 0..99")):
        test({"a": [1, 2, 100], "b": [4, 5, 6]}, cov)
    with pytest.raises(ValueError, match=re.escape("coverage['b'] level 95: must lie in (0, 1)")):
        test(ranks, {"a": cov["a"], "b": {95: 0.9}})
    with pytest.raises(ValueError, match=re.escape("n_boot=0: must be at least 1")):
        test(ranks, cov, n_boot=0)


# ---- prior draws ---------------------------------------------------------------------------


def _graph():
    a = Parameter("a", prior=Uniform(0.0, 1.0))
    b = Parameter("b", prior=Uniform(a, 2.0))  # bounded below by a
    c = Parameter("c", prior=Fixed(a * 2))
    t = Parameter("t", prior=TruncatedNormal(0.5, 0.2, 0.0, 0.6))
    tokens = {"a": a, "b": b, "c": c, "t": t}
    return SimpleNamespace(prior_graph=PriorGraph({k: v.prior for k, v in tokens.items()}, tokens))


def test_draw_prior_follows_dependent_bounds_and_fixed_expressions():
    from scipy import stats

    args = _graph()
    draws = [calibration.draw_prior(args, np.random.default_rng([5, i])) for i in range(3000)]
    a = np.array([d["a"] for d in draws])
    b = np.array([d["b"] for d in draws])
    c = np.array([d["c"] for d in draws])
    t = np.array([d["t"] for d in draws])
    assert np.all((b >= a) & (b <= 2.0))
    np.testing.assert_allclose(c, 2 * a)
    # a ~ U(0, 1); b given a ~ U(a, 2): (b - a) / (2 - a) ~ U(0, 1)
    assert stats.kstest(a, "uniform").pvalue > 0.01
    assert stats.kstest((b - a) / (2 - a), "uniform").pvalue > 0.01
    assert np.all((t >= 0.0) & (t <= 0.6))
    truncated = stats.truncnorm((0.0 - 0.5) / 0.2, (0.6 - 0.5) / 0.2, loc=0.5, scale=0.2)
    assert stats.kstest(t, truncated.cdf).pvalue > 0.01
    # same generator state, same draw
    again = calibration.draw_prior(args, np.random.default_rng([5, 0]))
    assert again == draws[0]


# ---- simulated spectra ---------------------------------------------------------------------


def test_simulate_fluxes_is_the_tutorial_spectrum_plus_noise():
    """At the tutorial's truth, the simulator gives the tutorial's Gaussians on its continuum
    (written here independently, per line centre) plus noise of the given errors."""
    from conftest import tutorial_fit1

    from unite_stan.model import ModelBuilder

    spectra, lines, cont = tutorial_fit1()
    _, args = ModelBuilder(lines, cont, spectra).build()
    line_scale = spectra.line_scale.to_value(u.erg / u.s / u.cm**2)
    cont_scale = spectra.continuum_scale.to_value(u.erg / u.s / u.cm**2 / u.AA)
    nw = args.prior_graph.priors["norm_wav_a"].value.value

    def sigma(centre):
        fwhm = math.hypot(centre * 200.0 / 299792.458, centre / 1200.0)
        return fwhm / (2 * math.sqrt(2 * math.log(2)))

    def flux(amplitude, centre):
        return amplitude * 1e-17 * math.sqrt(2 * math.pi) * sigma(centre) / line_scale

    values = {
        "z_narrow": 0.0,
        "fwhm_gauss_narrow": 200.0,
        "flux_Ha": flux(60.0, 6563.0),
        "flux_NII_6549": flux(15.0, 6549.0),
        "flux_SII_6717": flux(10.0, 6717.0),
        "scale_a": (20.0 + 0.04 * (nw - 6550.0)) * 1e-17 / cont_scale,
        "angle_a": math.atan(0.04e-17 / cont_scale),
    }
    (simulated,) = calibration.simulate_fluxes(args, values, np.random.default_rng(0))
    (fitted,) = args.spectra
    wl = np.asarray(fitted.wavelength, dtype=float)
    amplitudes = {6563.0: 60, 6549.0: 15, 6585.0: 45, 6717.0: 10, 6731.0: 15}
    model = 20.0 + 0.04 * (wl - 6550.0)
    for centre, amplitude in amplitudes.items():
        model = model + amplitude * np.exp(-0.5 * ((wl - centre) / sigma(centre)) ** 2)
    pull = (simulated - model * 1e-17) / 3e-17
    assert simulated.size == wl.size == 414
    assert abs(pull.mean()) < 0.15
    assert 0.9 < pull.std() < 1.1
    # the same generator state gives the same spectrum
    (again,) = calibration.simulate_fluxes(args, values, np.random.default_rng(0))
    np.testing.assert_array_equal(again, simulated)
