"""Choosing threads and pixel blocks (no compiler needed)."""

from __future__ import annotations

import numpy as np
import pytest

from unite_stan.stan.backends import base
from unite_stan.stan.data import block_data, reblock, spectrum_intervals
from unite_stan.stan.stages import layout as run


def data_with(n_pix):
    intervals = [np.arange(1, n + 1) * 2 - 1 for n in n_pix]  # a gap interval between pixels
    starts = np.cumsum([1, *n_pix[:-1]])
    data = {
        "N_pix": sum(n_pix),
        "spec_n_pix": np.array(n_pix),
        "spec_pix_start": starts,
    }
    data.update(block_data(starts, intervals, [1] * len(n_pix)))
    return data, intervals


@pytest.fixture
def eight_cores(monkeypatch):
    monkeypatch.setattr(base, "available_cores", lambda: 8)


def test_automatic_threads_use_the_cores_the_chains_leave(eight_cores):
    small, _ = data_with([1500, 1500])
    large, _ = data_with([2500, 2500])
    assert run.choose_threads(small, 1, None, None) == 1
    assert run.choose_threads(large, 1, None, None) == 8
    assert run.choose_threads(large, 2, None, None) == 4
    assert run.choose_threads(large, 4, 1, None) == 8
    # two or three threads per chain do not pay (the threaded path costs ~2.6x per thread)
    assert run.choose_threads(large, 4, None, None) == 1
    assert run.choose_threads(large, 3, 3, None) == 1
    assert run.choose_threads(large, 16, None, None) == 1
    # an explicit choice is taken as given
    assert run.choose_threads(small, 4, None, 2) == 2


def test_explicit_threads_beyond_the_cores_are_refused(eight_cores):
    data, _ = data_with([500])
    with pytest.raises(ValueError) as err:
        run.choose_threads(data, 4, 4, 4)
    assert str(err.value) == (
        "threads_per_chain=4 with 4 chains at once needs 16 threads; this machine has 8 cores: "
        "lower threads_per_chain or parallel_chains"
    )
    with pytest.raises(ValueError, match=r"threads_per_chain=0: must be a positive integer"):
        run.choose_threads(data, 1, None, 0)
    with pytest.raises(ValueError, match=r"threads_per_chain=1.5: must be a positive integer"):
        run.choose_threads(data, 1, None, 1.5)
    # default parallel chains make room for the threads: 8 cores / 4 threads = 2 at once
    assert run.choose_threads(data, 4, None, 4) == 4
    assert base.default_parallel_chains(4, 4) == 2


def test_blocks_per_spectrum():
    data, _ = data_with([414, 3000, 150])
    assert run.likelihood_blocks(data, 1) == [1, 1, 1]
    assert run.likelihood_blocks(data, 2) == [4, 4, 1]
    assert run.likelihood_blocks(data, 8) == [4, 16, 1]


def test_reblock_round_trip():
    data, intervals = data_with([10, 7])
    split = reblock(data, [3, 2])
    assert split["N_block"] == 5
    np.testing.assert_array_equal(split["spec_block_start"], [1, 4])
    np.testing.assert_array_equal(split["block_n_pix"], [4, 3, 3, 4, 3])
    np.testing.assert_array_equal(split["block_pix0"], [1, 5, 8, 11, 15])
    # a block spans its pixels' intervals: first edge of the first, last edge of the last
    np.testing.assert_array_equal(split["block_edge0"], [1, 9, 15, 1, 9])
    np.testing.assert_array_equal(split["block_n_edge"], [8, 6, 6, 8, 6])
    np.testing.assert_array_equal(split["pix_interval"][:4], [1, 3, 5, 7])
    for got, want in zip(spectrum_intervals(split), intervals, strict=True):
        np.testing.assert_array_equal(got, want)
    back = reblock(split, [1, 1])
    for key in ("N_block", "block_edge0", "block_n_edge", "pix_interval"):
        np.testing.assert_array_equal(back[key], data[key])


def test_block_errors():
    with pytest.raises(ValueError, match=r"pixel intervals of spectrum 0 are not increasing"):
        block_data(np.array([1]), [np.array([1, 3, 2])], [1])
    with pytest.raises(
        ValueError, match=r"n_blocks=4 for spectrum 0: must be in \[1, 3\] \(its pixel count\)"
    ):
        block_data(np.array([1]), [np.array([1, 2, 3])], [4])


def test_refine_shrinkage_trusts_clear_differences_only():
    from unite_stan.stan.stages.refine import _shrinkage_to_identity

    rng = np.random.default_rng(5)
    # independent draws of the identity: the estimate's difference is all noise
    xi = rng.standard_normal((4, 150, 6))
    flat = xi.reshape(-1, 6)
    cov = np.cov(flat, rowvar=False)
    assert _shrinkage_to_identity(xi, flat.mean(0), cov) > 0.5
    # a posterior 3x wider than the Laplace map in one direction: clear, little shrinkage
    xi = rng.standard_normal((4, 150, 6)) * np.array([3.0, 1, 1, 1, 1, 1])
    flat = xi.reshape(-1, 6)
    cov = np.cov(flat, rowvar=False)
    assert _shrinkage_to_identity(xi, flat.mean(0), cov) < 0.1
    # autocorrelated chains (each draw repeated 10 times) carry less information: more shrinkage
    base = rng.standard_normal((4, 60, 6)) * np.array([1.3, 1, 1, 1, 1, 1])
    slow = np.repeat(base, 10, axis=1)
    fast = rng.standard_normal((4, 600, 6)) * np.array([1.3, 1, 1, 1, 1, 1])
    weights = [
        _shrinkage_to_identity(x, x.reshape(-1, 6).mean(0), np.cov(x.reshape(-1, 6), rowvar=False))
        for x in (fast, slow)
    ]
    assert weights[1] > 2 * weights[0]


def test_site_ranges_restricted_to_unconstrained_intervals():
    """Interval arithmetic over a box of unite's unconstrained coordinates: the logistic map of
    each end, the prior's range where the box is unbounded, fixed sites unchanged."""
    from conftest import tutorial_fit1

    from unite_stan import model
    from unite_stan.stan.ranges import site_ranges

    spectra, flc, fcc = tutorial_fit1()
    _, args = model.ModelBuilder(flc, fcc, spectra).build()
    prior = site_ranges(args)
    lo, hi = prior["z_narrow"]
    box = site_ranges(args, {"z_narrow": (-1.0, 2.0), "flux_Ha": (-np.inf, np.inf)})
    s = 1.0 / (1.0 + np.exp(-np.array([-1.0, 2.0])))
    assert box["z_narrow"] == pytest.approx((lo + (hi - lo) * s[0], lo + (hi - lo) * s[1]))
    assert box["flux_Ha"] == pytest.approx(prior["flux_Ha"])
    assert box["fwhm_gauss_narrow"] == prior["fwhm_gauss_narrow"]
    assert box["norm_wav_a"] == prior["norm_wav_a"]
    point = site_ranges(args, {"z_narrow": (0.0, 0.0)})["z_narrow"]
    assert point[0] == point[1] == pytest.approx(0.5 * (lo + hi))
