"""Pixels that carry only a sampled Linear continuum, summed through their statistics, leave the
log density and its gradient unchanged (the tutorial's Fit 1 program, shared by the cache)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tutorial_fit1

from unite_stan import model
from unite_stan.stan.backends import get_backend
from unite_stan.stan.data import continuum_statistics

pytestmark = pytest.mark.stan


def fit1_program():
    spectra, flc, fcc = tutorial_fit1()
    return model.ModelBuilder(flc, fcc, spectra).build()[0]


def test_statistics_leave_log_density_and_gradient_unchanged():
    program = fit1_program()
    moved = program.with_continuum_statistics()
    data = moved.data
    counts = data["region_stat_n"]
    # the pixels outside the prior's line windows of the one region left the blocks; the
    # others form one block per run ([NII]+Ha and [SII])
    assert counts.shape == (1, 1) and 100 < counts[0, 0] < program.data["N_pix"]
    assert data["N_block"] == 2
    assert int(np.sum(data["block_n_pix"])) + counts[0, 0] == program.data["N_pix"]
    assert moved.code == program.code
    backend = get_backend("embedded")
    compiled = backend.compile(program.code, progress=False)
    before = backend.log_density(compiled, program.data)
    after = backend.log_density(compiled, data)
    rng = np.random.default_rng(5)
    for _ in range(4):
        x = rng.uniform(-1.5, 1.5, len(program.free_sites))
        (lp, grad), (lp_ref, grad_ref) = after(x), before(x)
        assert lp == pytest.approx(lp_ref, rel=1e-12)
        np.testing.assert_allclose(grad, grad_ref, rtol=1e-9, atol=1e-9 * np.abs(grad_ref).max())


def test_statistics_apply_only_where_they_pay_and_only_once():
    program = fit1_program()
    assert continuum_statistics(program.data, min_per_term=10**6) is None
    # the threaded program keeps its blocks: they are the threads' split
    threaded = program.with_blocks([2])
    assert threaded.with_continuum_statistics() is threaded
    moved = program.with_continuum_statistics()
    with pytest.raises(ValueError, match="continuum statistics are already in this data"):
        continuum_statistics(moved.data)
    message = "with_blocks needs every pixel in a block: apply it before with_continuum_statistics"
    with pytest.raises(ValueError, match=message):
        moved.with_blocks([2])
    with pytest.raises(ValueError, match="with_windows needs every pixel in a block"):
        moved.with_windows(moved.data["line_win_start"], moved.data["line_win_len"])


def test_programs_without_the_term_are_left_alone():
    """Sampled pixel offsets move the edges: the joint program has no statistics term."""
    from test_fit_joint import configuration, spectra_with

    lc, cc = configuration()
    spectra = spectra_with(np.ones(400), np.ones(900))
    program = model.ModelBuilder(lc, cc, spectra).build()[0]
    assert "region_stat" not in program.code and "region_stat_n" not in program.data
    assert program.with_continuum_statistics() is program
