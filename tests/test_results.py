"""Result tables, FITS output and freezing on the freeze tutorial's model (no compiler needed).

The "posterior" is synthetic: draws scattered around the simulation truth, so every expected
number can be computed independently from the tutorial's simulation.
"""

import io

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from astropy.io import fits
from astropy.table import QTable
from conftest import FLUX_UNIT, tutorial_fit1, tutorial_spectrum, tutorial_truth

from unite_stan import continuum, diagnostics, line, model, prior, results, spectrum
from unite_stan.compute import evaluate_model
from unite_stan.prior import Fixed

N_DRAWS = 500
PCT = np.array([0.16, 0.5, 0.84])
NORM_WAV = 0.5 * (6549.0 * (1 - 7500 / 299792.458) + 6731.0 * (1 + 7500 / 299792.458))
PARAM_COLUMNS = [
    "z_narrow",
    "fwhm_gauss_narrow",
    "flux_Ha",
    "flux_NII_6549",
    "flux_SII_6717",
    "rew_Ha",
    "rew_NII_6549",
    "rew_NII_6585",
    "rew_SII_6717",
    "rew_SII_6731",
    "angle_a",
    "norm_wav_a",
    "scale_a",
    "flux_scale_grism",
    "pix_offset_grism",
    "r_scale_grism",
    "log_prob",
    "log_likelihood",
]
SPECTRUM_COLUMNS = [
    "wavelength",
    "model_total",
    "Ha",
    "NII_6549",
    "NII_6585",
    "SII_6717",
    "SII_6731",
    "linear_6385_6899",
    "observed_flux",
    "observed_error",
    "scaled_error",
]
FROZEN_KEYS = [
    "angle_a",
    "flux_Ha",
    "flux_NII_6549",
    "flux_SII_6717",
    "flux_scale_grism",
    "fwhm_gauss_narrow",
    "norm_wav_a",
    "pix_offset_grism",
    "r_scale_grism",
    "scale_a",
    "z_narrow",
]


def truth_values(args) -> dict[str, float]:
    """Model parameters of the tutorial's simulation, in the model's normalised units."""
    t = tutorial_truth()
    line_scale = args.line_flux_scales[0]
    cont_scale = args.continuum_scales[0]
    area = np.sqrt(2 * np.pi) * t["sigma_aa"] * 1e-17
    level = t["cont_level"] + t["cont_slope"] * (NORM_WAV - t["cont_pivot"])
    return {
        "z_narrow": 0.0,
        "fwhm_gauss_narrow": t["fwhm_kms"],
        "flux_Ha": t["amplitudes"]["Ha"] * area / line_scale,
        "flux_NII_6549": t["amplitudes"]["NII_6549"] * area / line_scale,
        "flux_SII_6717": t["amplitudes"]["SII_6717"] * area / line_scale,
        "scale_a": level * 1e-17 / cont_scale,
        "angle_a": np.arctan(t["cont_slope"] * 1e-17 / cont_scale),
    }


def synthetic_samples(args, truth, *, n=N_DRAWS, seed=0) -> dict[str, np.ndarray]:
    """Draws around ``truth`` (1% scatter; absolute 1e-5 for redshifts) plus log densities."""
    rng = np.random.default_rng(seed)
    samples = {}
    for name in args.free_sites:
        value = truth[name]
        spread = 1e-5 if name.startswith("z_") else 0.01 * abs(value)
        samples[name] = value + spread * rng.standard_normal(n)
    samples["log_prob"] = 232.0 + rng.standard_normal(n)
    samples["log_likelihood"] = samples["log_prob"] + 17.7 + 0.1 * rng.standard_normal(n)
    return samples


@pytest.fixture(scope="module")
def fit1():
    """(program, args, samples) of the tutorial's Fit 1 with a synthetic posterior."""
    spectra, lines, cont = tutorial_fit1()
    program, args = model.ModelBuilder(lines, cont, spectra).build()
    return program, args, synthetic_samples(args, truth_values(args))


@pytest.fixture(scope="module")
def two_regions():
    """A model with two continuum regions ([6450, 6650] and [6690, 6780] Å) and a Fixed
    expression (NII flux = 0.25 × Hα flux)."""
    flux_ha = line.Flux(prior=prior.Uniform(0, 3))
    z = line.Redshift("narrow")
    fwhm = line.FWHM("narrow")
    lc = line.LineConfiguration()
    lc.add_line("Ha", 6563.0 * u.AA, redshift=z, fwhm_gauss=fwhm, flux=flux_ha)
    nii = line.Flux(prior=prior.Fixed(flux_ha * 0.25))
    lc.add_lines(
        "NII",
        np.array([6549.0, 6585.0]) * u.AA,
        redshift=z,
        fwhm_gauss=fwhm,
        strength=[1.0, 3.0],
        flux=nii,
    )
    lc.add_lines(
        "SII",
        np.array([6717.0, 6731.0]) * u.AA,
        redshift=z,
        fwhm_gauss=fwhm,
        strength=[1.0, 1.5],
        flux=line.Flux(prior=prior.Uniform(0, 3)),
    )
    cc = continuum.ContinuumConfiguration(
        [
            continuum.ContinuumRegion(6450 * u.AA, 6650 * u.AA),
            continuum.ContinuumRegion(6690 * u.AA, 6780 * u.AA),
        ]
    )
    spectra = spectrum.Spectra([tutorial_spectrum()])
    lines, cont = spectra.prepare(lc, cc)
    spectra.compute_scales(lines, cont)
    _, args = model.ModelBuilder(lines, cont, spectra).build()
    truth = {
        "z_narrow": 0.0,
        "fwhm_gauss_narrow": 200.0,
        "flux_Ha": 0.2,
        "flux_SII_6717": 0.05,
        "scale_a": 1.1,
        "angle_a": 0.002,
        "scale_b": 1.2,
        "angle_b": 0.002,
    }
    return args, synthetic_samples(args, truth, n=50, seed=3)


# ---- count_parameters --------------------------------------------------------------------


def test_count_parameters_counts_free_sites(fit1):
    program, args, _ = fit1
    assert results.count_parameters(program, args) == 7


def test_count_parameters_rejects_non_program(fit1):
    _, args, _ = fit1
    with pytest.raises(TypeError, match="build"):
        results.count_parameters(lambda: None, args)


# ---- parameter table ---------------------------------------------------------------------


def test_parameter_table_columns_in_unite_order(fit1):
    _, args, samples = fit1
    table = results.make_parameter_table(samples, args, percentiles=PCT)
    assert isinstance(table, QTable)
    assert table.colnames == ["percentile", *PARAM_COLUMNS]
    assert len(table) == 3
    assert np.array_equal(table["percentile"], PCT)


def test_parameter_table_without_percentiles_has_one_row_per_draw(fit1):
    _, args, samples = fit1
    table = results.make_parameter_table(samples, args)
    assert table.colnames == PARAM_COLUMNS
    assert len(table) == N_DRAWS
    assert np.array_equal(table["log_prob"], samples["log_prob"])


def test_parameter_table_units_and_scaling(fit1):
    _, args, samples = fit1
    table = results.make_parameter_table(samples, args)
    assert table["fwhm_gauss_narrow"].unit == u.km / u.s
    assert table["flux_Ha"].unit.is_equivalent(u.erg / u.s / u.cm**2)
    assert u.allclose(table["flux_Ha"], samples["flux_Ha"] * args.line_scale_quantity)
    assert table["rew_Ha"].unit == u.AA
    assert table["scale_a"].unit == FLUX_UNIT
    assert u.allclose(table["scale_a"], samples["scale_a"] * args.continuum_scale_quantity)
    assert table["norm_wav_a"].unit == u.AA
    for raw in ("z_narrow", "angle_a", "flux_scale_grism", "pix_offset_grism", "log_prob"):
        assert getattr(table[raw], "unit", None) is None, raw
    assert np.array_equal(table["angle_a"], samples["angle_a"])


def test_parameter_table_fixed_columns_are_constant(fit1):
    _, args, samples = fit1
    table = results.make_parameter_table(samples, args)
    assert np.all(table["norm_wav_a"] == table["norm_wav_a"][0])
    assert table["norm_wav_a"][0].to_value(u.AA) == pytest.approx(NORM_WAV, rel=1e-12)
    assert f"{table['norm_wav_a'][0].value:.1f}" == "6642.3"
    assert np.all(table["flux_scale_grism"] == 1.0)
    assert np.all(table["pix_offset_grism"] == 0.0)
    assert np.all(table["r_scale_grism"] == 1.0)


def test_parameter_table_percentile_rows_are_numpy_percentiles(fit1):
    _, args, samples = fit1
    per_draw = results.make_parameter_table(samples, args)
    table = results.make_parameter_table(samples, args, percentiles=PCT)
    for name in PARAM_COLUMNS:
        expected = np.percentile(np.asarray(per_draw[name]), 100 * PCT)
        assert np.allclose(np.asarray(table[name]), expected, rtol=1e-14, atol=0), name
        assert getattr(table[name], "unit", None) == getattr(per_draw[name], "unit", None)


def test_parameter_table_rew_is_flux_over_local_continuum(fit1):
    _, args, samples = fit1
    table = results.make_parameter_table(samples, args)
    z = samples["z_narrow"]
    line_scale = args.line_scale_quantity.to_value(u.erg / u.s / u.cm**2)
    cont_scale = args.continuum_scale_quantity.to_value(FLUX_UNIT)
    for name, rest, flux_site, strength in (
        ("Ha", 6563.0, "flux_Ha", 1.0),
        ("NII_6585", 6585.0, "flux_NII_6549", 3.0),
        ("SII_6731", 6731.0, "flux_SII_6717", 1.5),
    ):
        centre = rest * (1 + z)
        cont = cont_scale * (samples["scale_a"] + np.tan(samples["angle_a"]) * (centre - NORM_WAV))
        expected = samples[flux_site] * strength * line_scale / cont / (1 + z)
        assert np.allclose(table[f"rew_{name}"].to_value(u.AA), expected, rtol=1e-10), name
    # the simulation's equivalent width: area of the Hα Gaussian over the continuum at 6563 Å
    t = tutorial_truth()
    truth = 60.0 * np.sqrt(2 * np.pi) * t["sigma_aa"] / (20.0 + 0.04 * (6563.0 - 6550.0))
    assert np.median(table["rew_Ha"].to_value(u.AA)) == pytest.approx(truth, rel=0.01)


def test_parameter_table_meta(fit1):
    _, args, samples = fit1
    meta = results.make_parameter_table(samples, args).meta
    assert set(meta) == {"LFLXSCL", "LFLXUNT", "CNTSCL", "CNTUNT", "NRMFCTRS", "ZSYS"}
    assert u.isclose(meta["LFLXSCL"] * u.Unit(meta["LFLXUNT"]), args.line_scale_quantity)
    assert u.isclose(meta["CNTSCL"] * u.Unit(meta["CNTUNT"]), args.continuum_scale_quantity)
    assert meta["NRMFCTRS"] == pytest.approx([2.3128e-16], rel=1e-4)
    assert meta["ZSYS"] == 0.0


@pytest.mark.parametrize("bad, shown", [([0.16, 50], "50.0"), ([0.0, 0.5], "0.0"), (1.5, "1.5")])
def test_percentiles_must_be_fractions(fit1, bad, shown):
    _, args, samples = fit1
    with pytest.raises(ValueError, match=rf"{shown} is not a fraction in \(0, 1\)"):
        results.make_parameter_table(samples, args, percentiles=bad)
    with pytest.raises(ValueError, match="fraction"):
        results.make_spectra_tables(samples, args, percentiles=bad)


def test_parameter_table_evaluates_fixed_expressions_per_draw(two_regions):
    args, samples = two_regions
    table = results.make_parameter_table(samples, args)
    assert u.allclose(table["flux_NII_6549"], 0.25 * table["flux_Ha"], rtol=1e-14)
    assert np.ptp(table["flux_NII_6549"].value) > 0


# ---- spectra tables ----------------------------------------------------------------------


def test_spectra_tables_columns_shapes_and_meta(fit1):
    _, args, samples = fit1
    tables = results.make_spectra_tables(samples, args, percentiles=PCT)
    assert list(tables) == ["grism"]
    table = tables["grism"]
    assert table.colnames == SPECTRUM_COLUMNS
    assert len(table) == 414
    for name in SPECTRUM_COLUMNS[1:8]:
        assert table[name].shape == (414, 3), name
        assert table[name].unit == FLUX_UNIT
    assert table["wavelength"].unit == u.AA
    assert table["wavelength"][0].value == pytest.approx(6386.3, abs=0.05)
    assert table["wavelength"][-1].value == pytest.approx(6800.0, abs=1e-9)
    assert table.meta == {"SPECNAME": "grism", "NORMFAC": args.norm_factors[0]}
    spec = args.spectra[0]
    assert np.array_equal(table["observed_flux"].value, spec.flux)
    assert np.array_equal(table["observed_error"].value, spec.error)
    assert np.array_equal(table["scaled_error"].value, spec.scaled_error)


def test_spectra_tables_per_draw_total_is_sum_of_components(fit1):
    _, args, samples = fit1
    table = results.make_spectra_tables(samples, args)["grism"]
    assert table["model_total"].shape == (414, N_DRAWS)
    parts = sum(table[name] for name in SPECTRUM_COLUMNS[2:8])
    assert u.allclose(table["model_total"], parts, rtol=1e-12)


def test_spectra_tables_median_model_matches_simulation_truth(fit1):
    _, args, samples = fit1
    table = results.make_spectra_tables(samples, args, percentiles=PCT)["grism"]
    t = tutorial_truth()
    wl = table["wavelength"].to_value(u.AA)
    truth = t["cont_level"] + t["cont_slope"] * (wl - t["cont_pivot"])
    for name, amplitude in t["amplitudes"].items():
        truth = truth + amplitude * np.exp(-0.5 * ((wl - t["centres"][name]) / t["sigma_aa"]) ** 2)
    median = table["model_total"][:, 1].to_value(FLUX_UNIT) * 1e17
    peak = np.argmin(np.abs(wl - 6563.0))
    assert median[peak] == pytest.approx(truth[peak], rel=0.02)
    assert np.max(np.abs(median / truth - 1)) < 0.03


def test_spectra_tables_equal_one_evaluation_of_the_whole_model(fit1):
    # 414 pixels × 500 draws fit in one piece: the same numbers as evaluating every draw and
    # pixel at once and taking the percentiles over the draws, bit for bit
    _, args, samples = fit1
    (whole,) = evaluate_model(samples, args)
    expected = {"model_total": whole.total, **whole.lines, **whole.continua}
    for pct in (PCT, None):
        table = results.make_spectra_tables(samples, args, percentiles=pct)["grism"]
        for name, draws in expected.items():
            values = draws[:, whole.in_region]
            if pct is not None:
                values = np.percentile(values, 100 * pct, axis=0)
            assert np.array_equal(table[name].to_value(FLUX_UNIT), values.T), name


@pytest.mark.parametrize("n_draws", [1, 2, 3, 999, 4000])
@pytest.mark.parametrize(
    "pct", [[0.16, 0.5, 0.84], [0.0, 0.025, 0.975, 1.0], [0.001, 0.3333, 0.6667, 0.999]]
)
def test_pixel_percentiles_equal_numpy_bit_for_bit(n_draws, pct):
    # the tables sort each pixel's draws and interpolate as numpy's linear method does: the
    # same bits as numpy.percentile, over magnitudes 1e-20..1e20, ties, constant pixels, and
    # pixels with NaN (numpy's NaN) or infinite draws
    rng = np.random.default_rng(n_draws)
    draws = rng.normal(size=(n_draws, 60)) * 10 ** rng.uniform(-20, 20, size=60)
    draws[:, :6] = np.round(draws[:, :6])
    draws[:, 6] = 3.0
    if n_draws > 3:
        draws[3, 7], draws[1, 8], draws[2, 9] = np.nan, np.inf, -np.inf
    pct = np.asarray(pct)
    with np.errstate(invalid="ignore"):
        expected = np.percentile(draws, 100 * pct, axis=0)
        got = results._pixel_percentiles(draws, pct)
    assert np.array_equal(got, expected, equal_nan=True)
    assert np.isnan(got[:, 7]).all() == (n_draws > 3)


def test_spectra_tables_pieces_change_values_only_at_the_window_level(fit1, monkeypatch):
    # pieces of 12 pixels: a piece's profile windows use its own widest LSF, which moves a
    # window edge by a fraction of a pixel, below 1e-14 of the peak (the windows' truncation)
    _, args, samples = fit1
    whole = results.make_spectra_tables(samples, args)["grism"]
    monkeypatch.setattr(results, "_CHUNK_ELEMENTS", 50_000)
    pieces = results.make_spectra_tables(samples, args)["grism"]
    for name in SPECTRUM_COLUMNS:
        peak = np.max(np.abs(whole[name].value))
        np.testing.assert_allclose(pieces[name].value, whole[name].value, rtol=0, atol=1e-14 * peak)


def test_insert_nan_with_one_region_inserts_nothing(fit1):
    _, args, samples = fit1
    table = results.make_spectra_tables(samples, args, insert_nan=True, percentiles=PCT)["grism"]
    assert len(table) == 414
    assert not np.isnan(table["model_total"].value).any()


def test_insert_nan_adds_two_rows_per_gap(two_regions):
    args, samples = two_regions
    plain = results.make_spectra_tables(samples, args, percentiles=PCT)["grism"]
    table = results.make_spectra_tables(samples, args, insert_nan=True, percentiles=PCT)["grism"]
    assert len(table) == len(plain) + 2
    wl = plain["wavelength"].value
    last = np.flatnonzero(wl <= 6650.0)[-1]
    gap = [last + 1, last + 2]
    step = 600.0 / 599.0
    assert table["wavelength"][gap].value == pytest.approx([wl[last] + step, wl[last + 1] - step])
    assert np.all(np.diff(table["wavelength"].value) > 0)
    for name in table.colnames[1:]:
        assert np.isnan(table[name][gap].value).all(), name
        kept = np.delete(table[name].value, gap, axis=0)
        assert np.array_equal(kept, plain[name].value), name


def test_spectra_tables_as_hdul(fit1):
    _, args, samples = fit1
    hdul = results.make_spectra_tables(samples, args, percentiles=PCT, return_hdul=True)
    assert isinstance(hdul, fits.HDUList)
    assert len(hdul) == 2
    assert hdul[0].data is None
    assert hdul[1].header["EXTNAME"] == "GRISM"
    assert hdul[1].header["SPECNAME"] == "grism"
    assert hdul[1].columns.names == SPECTRUM_COLUMNS
    assert hdul[1].data["model_total"].shape == (414, 3)


# ---- make_hdul ---------------------------------------------------------------------------


def test_make_hdul_structure_and_round_trip(fit1):
    _, args, samples = fit1
    hdul = results.make_hdul(samples, args, percentiles=PCT)
    buffer = io.BytesIO()
    hdul.writeto(buffer)
    buffer.seek(0)
    with fits.open(buffer) as read:
        assert [h.name for h in read] == ["PRIMARY", "PARAMETERS", "GRISM"]
        header = read[0].header
        assert header["NSPEC"] == 1
        assert header["ZSYS"] == 0.0
        assert header["LFLXSCL"] == pytest.approx(args.line_flux_scales[0])
        assert u.Unit(header["LFLXUNT"]) == u.erg / u.s / u.cm**2
        assert header["CNTSCL"] == pytest.approx(args.continuum_scales[0])
        assert u.Unit(header["CNTUNT"]) == FLUX_UNIT
        params = QTable.read(read["PARAMETERS"])
        assert params.colnames == ["percentile", *PARAM_COLUMNS]
        assert len(params) == 3
        assert read["GRISM"].data["wavelength"].shape == (414,)


# ---- freeze_from_samples -----------------------------------------------------------------


def test_freeze_returns_every_parameter(fit1):
    _, args, samples = fit1
    frozen = results.freeze_from_samples(samples, args)
    assert sorted(frozen) == FROZEN_KEYS
    assert all(isinstance(f, Fixed) for f in frozen.values())
    assert f"{frozen['norm_wav_a'].resolved_value({}):.1f}" == "6642.3"
    assert frozen["r_scale_grism"].resolved_value({}) == 1.0
    for name in args.free_sites:
        assert frozen[name].resolved_value({}) == pytest.approx(np.median(samples[name]))


def test_freeze_mean_and_callable(fit1):
    _, args, samples = fit1
    mean = results.freeze_from_samples(samples, args, cenfunc="mean")
    largest = results.freeze_from_samples(samples, args, cenfunc=np.max)
    assert mean["scale_a"].resolved_value({}) == pytest.approx(np.mean(samples["scale_a"]))
    assert largest["flux_Ha"].resolved_value({}) == np.max(samples["flux_Ha"])
    assert isinstance(largest["flux_Ha"].resolved_value({}), float)


@pytest.mark.parametrize("cenfunc, key", [("map", "log_prob"), ("mle", "log_likelihood")])
def test_freeze_map_and_mle_take_one_draw(fit1, cenfunc, key):
    _, args, samples = fit1
    frozen = results.freeze_from_samples(samples, args, cenfunc=cenfunc)
    best = int(np.argmax(samples[key]))
    for name in args.free_sites:
        assert frozen[name].resolved_value({}) == samples[name][best], name
    assert frozen["norm_wav_a"].resolved_value({}) == pytest.approx(NORM_WAV)


def test_freeze_map_without_log_prob(fit1):
    _, args, samples = fit1
    reduced = {k: v for k, v in samples.items() if k != "log_prob"}
    with pytest.raises(ValueError, match="log_prob"):
        results.freeze_from_samples(reduced, args, cenfunc="map")


def test_freeze_rejects_unknown_cenfunc(fit1):
    _, args, samples = fit1
    with pytest.raises(ValueError, match=r"cenfunc='mode'.*'median', 'mean', 'map', 'mle'"):
        results.freeze_from_samples(samples, args, cenfunc="mode")
    with pytest.raises(TypeError, match="callable"):
        results.freeze_from_samples(samples, args, cenfunc=3)


def test_freeze_summarises_fixed_expressions(two_regions):
    args, samples = two_regions
    frozen = results.freeze_from_samples(samples, args)
    expected = np.median(0.25 * samples["flux_Ha"])
    assert frozen["flux_NII_6549"].resolved_value({}) == pytest.approx(expected, rel=1e-14)


# ---- summary -----------------------------------------------------------------------------


def test_summary_needs_a_fit(fit1):
    _, args, _ = fit1
    with pytest.raises(ValueError, match=r"run ModelBuilder.fit\(\) first"):
        results.summary(args)


def test_summary_of_attached_draws(fit1):
    _, args, samples = fit1
    draws = {name: (("chain", "draw"), samples[name].reshape(2, -1)) for name in args.free_sites}
    dataset = xr.Dataset(draws, attrs={"free_parameters": ["flux_Ha", "scale_a"]})
    fitted = type(args)(**{**vars(args), "dataset": dataset})
    table = results.summary(fitted)
    assert list(table["name"]) == ["flux_Ha", "scale_a"]


def test_summary_is_in_the_parameter_tables_units(fit1):
    _, args, samples = fit1
    free = ["z_narrow", "fwhm_gauss_narrow", "flux_Ha", "scale_a", "angle_a"]
    draws = {name: (("chain", "draw"), samples[name].reshape(2, -1)) for name in free}
    fitted = type(args)(**{**vars(args), "dataset": xr.Dataset(draws)})
    table = results.summary(fitted)
    assert table.colnames == [
        "name", "mean", "sd", "q5", "q50", "q95", "unit", "r_hat", "ess_bulk", "ess_tail"
    ]  # fmt: skip
    rows = {row["name"]: row for row in table}
    assert u.Unit(rows["flux_Ha"]["unit"]) == u.erg / u.s / u.cm**2
    assert u.Unit(rows["scale_a"]["unit"]) == FLUX_UNIT
    assert u.Unit(rows["fwhm_gauss_narrow"]["unit"]) == u.km / u.s
    assert rows["z_narrow"]["unit"] == rows["angle_a"]["unit"] == ""
    # Hα's flux: 60 × sqrt(2π) σ × 1e-17 erg/s/cm², not the sampled ~0.16 line scales
    assert rows["flux_Ha"]["q50"] == pytest.approx(4.5e-15, rel=0.05)
    medians = results.make_parameter_table(samples, args, percentiles=[0.5])
    for name in free:
        assert rows[name]["q50"] == pytest.approx(u.Quantity(medians[name][0]).value, rel=1e-12), (
            name
        )
    # ranks and quantile indicators do not depend on the scale (up to rounding, which can
    # swap two nearly equal folded draws)
    unscaled = diagnostics.summary(xr.Dataset(draws))
    for name in ("r_hat", "ess_bulk", "ess_tail"):
        np.testing.assert_allclose(table[name], unscaled[name], rtol=1e-4)
