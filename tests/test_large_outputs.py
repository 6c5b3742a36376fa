"""Tables and plots of long spectra stay within bounded memory (no compiler needed).

The model is the freeze tutorial's Fit 1 (five lines, one Linear region) on a spectrum of
100 000 pixels, with synthetic draws around the simulation truth. Before the model was
evaluated in pieces, ``plot_fit`` held draws × pixels × components at once: 560 MB for
these 100 draws, 3 GB for 4000 draws of 10 000 pixels.
"""

import tracemalloc

import astropy.units as u
import matplotlib.pyplot as plt
import numpy as np
import pytest
from conftest import FLUX_UNIT, tutorial_fit1, tutorial_truth
from test_results import PCT, synthetic_samples, truth_values

from unite_stan import model, plot, results, spectrum
from unite_stan.instrument.generic import SimpleDisperser

N_PIX = 100_000


def long_spectrum(n_pix: int):
    """The tutorial's simulated lines and continuum sampled on ``n_pix`` pixels."""
    rng = np.random.default_rng(7)
    wl = np.linspace(6390.0, 6890.0, n_pix)
    half = 0.5 * (wl[1] - wl[0])
    t = tutorial_truth()
    flux = t["cont_level"] + t["cont_slope"] * (wl - t["cont_pivot"])
    for name, amplitude in t["amplitudes"].items():
        flux = flux + amplitude * np.exp(-0.5 * ((wl - t["centres"][name]) / t["sigma_aa"]) ** 2)
    flux = (flux + rng.normal(0, 3.0, n_pix)) * 1e-17
    return spectrum.from_edges(
        (wl - half) * u.AA,
        (wl + half) * u.AA,
        flux * FLUX_UNIT,
        np.full(n_pix, 3e-17) * FLUX_UNIT,
        SimpleDisperser(wavelength=wl * u.AA, R=1200.0, name="grism"),
        name="grism",
    )


@pytest.fixture(scope="module")
def long_fit():
    spectra, lines, cont = tutorial_fit1(long_spectrum(N_PIX))
    _, args = model.ModelBuilder(lines, cont, spectra).build()
    return args, synthetic_samples(args, truth_values(args), n=1000, seed=5)


def peak_megabytes(function, *args, **kwargs) -> tuple[float, object]:
    """Peak of the memory traced (numpy's arrays included) while ``function`` runs, in MB."""
    tracemalloc.start()
    try:
        result = function(*args, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak / 1e6, result


def test_percentile_tables_of_a_long_spectrum_stay_small(long_fit):
    args, samples = long_fit
    samples = plot.thin_draws(samples, 100)
    peak, tables = peak_megabytes(results.make_spectra_tables, samples, args, percentiles=PCT)
    table = tables["grism"]
    assert len(table) == N_PIX
    assert table["model_total"].shape == (N_PIX, 3)
    # the tables are 7 model columns × 3 percentiles × 8 bytes × 1e5 pixels = 17 MB; the model
    # of every draw at once would be 7 × 100 × 8 × 1e5 = 560 MB
    assert peak < 200, f"make_spectra_tables peaked at {peak:.0f} MB"


def test_plot_fit_of_a_long_spectrum_thins_and_stays_small(long_fit):
    args, samples = long_fit
    peak, figures = peak_megabytes(plot.plot_fit, samples, args, max_draws=100)
    assert len(figures) == 1
    assert len(figures[0].axes[0].get_lines()[1].get_xdata()) == N_PIX
    plt.close("all")
    assert peak < 250, f"plot_fit peaked at {peak:.0f} MB"


def test_thin_draws_is_even_and_deterministic():
    samples = {"a": np.arange(4000.0), "log_prob": -np.arange(4000.0)}
    thinned = plot.thin_draws(samples, 500)
    assert thinned["a"].size == 500
    assert thinned["a"][0] == 0 and thinned["a"][-1] == 3999
    assert np.ptp(np.diff(thinned["a"])) <= 1  # evenly spaced: steps of 8 (and rounding)
    assert np.array_equal(thinned["log_prob"], -thinned["a"])  # same draws for every site
    assert np.array_equal(plot.thin_draws(samples, 500)["a"], thinned["a"])
    assert plot.thin_draws(samples, 4000) is samples
    assert plot.thin_draws(samples, None) is samples
    with pytest.raises(ValueError, match="different lengths"):
        plot.thin_draws({"a": np.zeros(3), "b": np.zeros(4)}, 2)
    with pytest.raises(ValueError, match="max_draws=0"):
        plot.thin_draws(samples, 0)


def test_plot_fit_without_thinning_plots_the_tables_of_every_draw(long_fit, monkeypatch):
    # the tutorial's own spectrum and 500 draws (not more than MAX_BAND_DRAWS): plot_fit
    # draws exactly make_spectra_tables' percentiles over all draws
    spectra, lines, cont = tutorial_fit1()
    _, args = model.ModelBuilder(lines, cont, spectra).build()
    samples = synthetic_samples(args, truth_values(args), n=plot.MAX_BAND_DRAWS)
    plotted = []
    monkeypatch.setattr(plot, "plot_spectrum", lambda table: plotted.append(table))
    plot.plot_fit(samples, args)
    expected = results.make_spectra_tables(samples, args, insert_nan=True, percentiles=PCT)
    for name in expected["grism"].colnames:
        assert np.array_equal(plotted[0][name], expected["grism"][name]), name
