"""Pixels that carry only a sampled Linear continuum, summed through their statistics, leave the
log density and its gradient unchanged (the tutorial's Fit 1 program, shared by the cache)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tutorial_fit1

from unite_stan import model
from unite_stan.stan.backends import get_backend
from unite_stan.stan.data import continuum_statistics
from unite_stan.stan.render import Layout

pytestmark = pytest.mark.stan


def fit1_program():
    spectra, flc, fcc = tutorial_fit1()
    return model.ModelBuilder(flc, fcc, spectra).build()[0]


def assert_same_density(density, reference, dim, *, seed, points):
    """Equal log densities (to 1e-12) and gradients (to 1e-9) at random points."""
    rng = np.random.default_rng(seed)
    for _ in range(points):
        x = rng.uniform(-1.5, 1.5, dim)
        (lp, grad), (lp_ref, grad_ref) = density(x), reference(x)
        assert lp == pytest.approx(lp_ref, rel=1e-12)
        np.testing.assert_allclose(grad, grad_ref, rtol=1e-9, atol=1e-9 * np.abs(grad_ref).max())


def test_statistics_leave_log_density_and_gradient_unchanged():
    program = fit1_program()
    moved = program.laid_out(Layout(statistics=True))
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
    assert_same_density(after, before, len(program.free_sites), seed=5, points=4)


def test_statistics_apply_only_where_they_pay_and_after_the_other_choices():
    program = fit1_program()
    assert continuum_statistics(program.data, [1], min_per_term=10**6) is None
    # the threaded program keeps at least its blocks (the threads' split) when pixels move
    serial = program.laid_out(Layout(statistics=True))
    for n in (2, 5):
        threaded = program.laid_out(Layout(blocks=(n,), statistics=True))
        assert threaded.code == program.threaded_code and threaded.data["N_block"] >= n
        np.testing.assert_array_equal(threaded.data["region_stat_n"], serial.data["region_stat_n"])
        assert int(np.sum(threaded.data["block_n_pix"])) == int(np.sum(serial.data["block_n_pix"]))
    moved = program.laid_out(Layout(statistics=True))
    with pytest.raises(ValueError, match="continuum statistics are already in this data"):
        continuum_statistics(moved.data, [1])
    # a layout always starts from the program as rendered: laying out a laid-out program
    # gives what the rendered one gives, whatever was applied before
    windows = (moved.data["line_win_start"], moved.data["line_win_len"] // 2 * 2)
    wanted = Layout(blocks=(2,), windows=windows)
    again = moved.laid_out(wanted)
    fresh = program.laid_out(wanted)
    assert again.code == fresh.code == program.threaded_code
    assert sorted(again.data) == sorted(fresh.data)
    for key in fresh.data:
        np.testing.assert_array_equal(again.data[key], fresh.data[key], err_msg=key)
    assert again.layout == wanted and again.rendered is program


def test_programs_without_the_term_are_left_alone():
    """Sampled pixel offsets move the edges: the joint program has no statistics term."""
    from test_fit_joint import configuration, spectra_with

    lc, cc = configuration()
    spectra = spectra_with(np.ones(400), np.ones(900))
    program = model.ModelBuilder(lc, cc, spectra).build()[0]
    assert "region_stat" not in program.code and "region_stat_n" not in program.data
    laid = program.laid_out(Layout(statistics=True))
    assert int(np.sum(laid.data.get("region_stat_n", 0))) == 0 and laid.code == program.code


def test_threaded_program_with_statistics_matches_the_serial_one():
    """The threaded program sums the same blocks and statistics as the serial one."""
    program = fit1_program()
    serial = program.laid_out(Layout(statistics=True))
    threaded = program.laid_out(Layout(blocks=(3,), statistics=True))
    assert threaded.data["N_block"] >= 3 and int(np.sum(threaded.data["region_stat_n"])) > 100
    backend = get_backend("embedded")
    on_serial = backend.log_density(
        backend.compile(program.serial_code, progress=False), serial.data
    )
    on_threads = backend.log_density(backend.compile(threaded.code, progress=False), threaded.data)
    assert_same_density(on_threads, on_serial, len(program.free_sites), seed=8, points=3)
