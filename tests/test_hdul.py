"""make_hdul and make_spectra_tables(return_hdul=True) written to disk and read back.

Two spectra (a grism and a finer spectrum covering only the redder region), two continuum
regions (one named), a doublet and an absorber, and three fixed "draws": every expected
header value, column name, unit and number below was observed with unite 3.5.2 on the same
configuration and draws (``unite.results.make_hdul``). unite computes in float32, so values
agree to ~1e-6 relative, line and absorber columns (differences of float32 cumulative
profiles) to ~1e-4.
"""

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable
from conftest import FLUX_UNIT

from unite_stan import continuum, line, model, prior, results, spectrum
from unite_stan.instrument.generic import SimpleDisperser

PCT = [0.25, 0.5, 0.75]
SAMPLES = {
    "z_narrow": np.array([-1e-4, 0.0, 2e-4]),
    "fwhm_gauss_narrow": np.array([150.0, 200.0, 260.0]),
    "flux_Ha": np.array([0.3, 0.35, 0.4]),
    "flux_NII_6549.86": np.array([0.08, 0.1, 0.12]),
    "tau_abs": np.array([0.2, 0.5, 0.9]),
    "angle_a": np.array([0.0, 0.001, -0.002]),
    "angle_red": np.array([0.002, 0.0, 0.001]),
    "scale_a": np.array([1.0, 1.1, 0.9]),
    "scale_red": np.array([1.05, 0.95, 1.0]),
    "log_prob": np.array([10.0, 12.0, 11.0]),
    "log_likelihood": np.array([20.0, 25.0, 22.0]),
}
LINE_UNIT = "erg s-1 cm-2"
FLUX = "erg Angstrom-1 s-1 cm-2"
# (name, TUNIT) of the PARAMETERS extension, as unite 3.5.2 writes them
PARAMETER_COLUMNS = [
    ("percentile", None),
    ("z_narrow", None),
    ("fwhm_gauss_narrow", "km s-1"),
    ("flux_Ha", LINE_UNIT),
    ("flux_NII_6549.86", LINE_UNIT),
    ("rew_Ha", "Angstrom"),
    ("rew_NII_6549.86", "Angstrom"),
    ("rew_NII_6585.27", "Angstrom"),
    ("tau_abs", None),
    ("rew_abs", "Angstrom"),
    ("angle_a", None),
    ("angle_red", None),
    ("norm_wav_a", "Angstrom"),
    ("norm_wav_red", "Angstrom"),
    ("scale_a", FLUX),
    ("scale_red", FLUX),
    ("flux_scale_grism", None),
    ("flux_scale_hires", None),
    ("pix_offset_grism", None),
    ("pix_offset_hires", None),
    ("r_scale_grism", None),
    ("r_scale_hires", None),
    ("log_prob", None),
    ("log_likelihood", None),
]
SPECTRUM_COLUMNS = [
    ("wavelength", "Angstrom"),
    *(
        (name, FLUX)
        for name in (
            "model_total",
            "Ha",
            "NII_6549.86",
            "NII_6585.27",
            "abs",
            "linear_6300_6450",
            "linear_6480_6700",
        )
    ),
    ("od_abs", None),
    ("observed_flux", FLUX),
    ("observed_error", FLUX),
    ("scaled_error", FLUX),
]
# unite 3.5.2's values: percentiles of the parameter table
PARAMETER_VALUES = {
    "flux_Ha": [4.4259228176e-15, 4.7663782941e-15, 5.1068339735e-15],
    "flux_NII_6549.86": [1.2256401516e-15, 1.3618224132e-15, 1.4980046241e-15],
    "rew_Ha": [19.794938656, 21.7996820143, 23.02349033],
    "rew_NII_6549.86": [5.5585166461, 6.2284805063, 6.8071603529],
    "rew_NII_6585.27": [16.1758841457, 18.6854420032, 20.0277552484],
    "tau_abs": [0.35, 0.5, 0.7],
    "rew_abs": [-3.0540957321, -1.9896997004, -1.322582133],
    "angle_red": [0.0005, 0.001, 0.0015],
    "norm_wav_a": [6375.0, 6375.0, 6375.0],
    "norm_wav_red": [6590.0, 6590.0, 6590.0],
    "scale_a": [2.1864440414e-16, 2.3015200725e-16, 2.4165961036e-16],
    "scale_red": [2.2439820570e-16, 2.3015200725e-16, 2.3590580194e-16],
    "log_prob": [10.5, 11.0, 11.5],
    "log_likelihood": [21.0, 22.0, 23.5],
}
# unite 3.5.2's spectrum rows: (extension, column, pixel-centre wavelength, percentiles)
SPECTRUM_VALUES = [
    ("GRISM", "Ha", 6565.609375, [5.4921401895e-16, 6.0131393027e-16, 6.2207650775e-16]),
    ("GRISM", "NII_6585.27", 6585.642578, [4.9168552640e-16, 5.3921413326e-16, 5.4814797504e-16]),
    ("GRISM", "abs", 6519.532227, [-7.4900324347e-17, -5.7828553966e-17, -3.9069646155e-17]),
    ("GRISM", "od_abs", 6519.532227, [0.2056499049, 0.3085901737, 0.4359614849]),
    ("GRISM", "model_total", 6564.607422, [8.1683458156e-16, 8.2263882189e-16, 8.3863241859e-16]),
    ("GRISM", "model_total", 6301.168945, [2.3316342114e-16, 2.3617483502e-16, 2.3864819770e-16]),
    (
        "GRISM",
        "linear_6300_6450",
        6301.168945,
        [2.3316342114e-16, 2.3617483502e-16, 2.3864819770e-16],
    ),
    (
        "GRISM",
        "linear_6480_6700",
        6698.831055,
        [2.3692205043e-16, 2.5519969794e-16, 2.7347737192e-16],
    ),
    ("HIRES", "Ha", 6564.393066, [8.0681330829e-16, 9.0913560300e-16, 9.2395243271e-16]),
    ("HIRES", "abs", 6520.087891, [-9.5903518743e-17, -7.8755363195e-17, -5.4026461293e-17]),
    ("HIRES", "od_abs", 6520.087891, [0.2988218069, 0.446870476, 0.5990744382]),
    ("HIRES", "model_total", 6564.393066, [1.0282651754e-15, 1.1277800059e-15, 1.1482109171e-15]),
]


def _simulate(wl, fwhm):
    sigma = fwhm / (2 * np.sqrt(2 * np.log(2)))
    flux = 20 + 0.04 * (wl - 6550) + 3 * np.sin(wl / 3.7)
    for centre, amplitude in ((6564.61, 60), (6549.86, 15), (6585.27, 45)):
        flux = flux + amplitude * np.exp(-0.5 * ((wl - centre) / sigma) ** 2)
    return flux - 8 * np.exp(-0.5 * ((wl - 6520) / sigma) ** 2)


def _spectrum(wl, fwhm, error, R, name):
    step = wl[1] - wl[0]
    return spectrum.from_edges(
        (wl - step / 2) * u.AA,
        (wl + step / 2) * u.AA,
        _simulate(wl, fwhm) * 1e-17 * FLUX_UNIT,
        np.full(wl.size, error) * FLUX_UNIT,
        SimpleDisperser(wl * u.AA, R=R, name=name),
    )


@pytest.fixture(scope="module")
def args():
    spectra = spectrum.Spectra(
        [
            _spectrum(np.linspace(6200, 6800, 600), 7.0, 3e-17, 1200, "grism"),
            _spectrum(np.linspace(6450, 6650, 800), 3.0, 2e-17, 3000, "hires"),
        ]
    )
    lc = line.LineConfiguration()
    z = line.Redshift("narrow", prior=prior.Uniform(-0.001, 0.001))
    fwhm = line.FWHM("narrow", prior=prior.Uniform(50, 500))
    lc.add_line(
        "Ha", 6564.61 * u.AA, redshift=z, fwhm_gauss=fwhm, flux=line.Flux(prior=prior.Uniform(0, 3))
    )
    lc.add_lines(
        "NII",
        [6549.86, 6585.27] * u.AA,
        redshift=z,
        fwhm_gauss=fwhm,
        flux=line.Flux(prior=prior.Uniform(0, 3)),
        strength=[1, 3],
    )
    lc.add_line(
        "abs", 6520 * u.AA, tau=line.Tau(prior=prior.Uniform(0, 2)), redshift=z, fwhm_gauss=fwhm
    )
    cc = continuum.ContinuumConfiguration(
        [
            continuum.ContinuumRegion(6300 * u.AA, 6450 * u.AA),
            continuum.ContinuumRegion(6480 * u.AA, 6700 * u.AA, name="red"),
        ]
    )
    with pytest.warns(
        UserWarning, match=r"dropped 1 continuum region\(s\) .*: 6300-6450 Angstrom$"
    ):
        spectra.prepare(lc, cc)
    spectra.compute_scales(lc, cc)
    return model.ModelBuilder(lc, cc, spectra).build()[1]


@pytest.fixture(scope="module")
def hdul_path(args, tmp_path_factory):
    path = tmp_path_factory.mktemp("hdul") / "fit.fits"
    results.make_hdul(SAMPLES, args, percentiles=PCT, insert_nan=True).writeto(path)
    return path


def _columns(hdu):
    return [(c.name, c.unit) for c in hdu.columns]


def test_extensions_and_primary_header(hdul_path):
    with fits.open(hdul_path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "PARAMETERS", "GRISM", "HIRES"]
        header = hdul[0].header
        assert hdul[0].data is None
        assert list(header)[4:] == ["ZSYS", "LFLXSCL", "LFLXUNT", "CNTSCL", "CNTUNT", "NSPEC"]
        assert [header.comments[k] for k in list(header)[4:]] == [
            "Systemic redshift",
            "Line flux scale",
            "Line flux scale unit",
            "Continuum flux scale",
            "Continuum flux scale unit",
            "Number of spectra",
        ]
        assert header["ZSYS"] == 0.0
        assert header["NSPEC"] == 2
        assert header["LFLXUNT"] == "erg / (s cm2)"
        assert header["CNTUNT"] == "erg / (Angstrom s cm2)"
        assert header["LFLXSCL"] == pytest.approx(1.36182239294170e-14, rel=1e-6)
        assert header["CNTSCL"] == pytest.approx(2.30152007249455e-16, rel=1e-6)
        for hdu in hdul[1:]:
            assert hdu.header.comments["EXTNAME"] == "extension name"


def test_parameters_extension(hdul_path):
    with fits.open(hdul_path) as hdul:
        hdu = hdul["PARAMETERS"]
        assert _columns(hdu) == PARAMETER_COLUMNS
        header = hdu.header
        for key, unite_value in (
            ("LFLXSCL", 1.36182239294170e-14),
            ("CNTSCL", 2.30152007249455e-16),
        ):
            assert header[key] == pytest.approx(unite_value, rel=1e-6)
            assert header[key] == hdul[0].header[key]
        assert header["LFLXUNT"] == "erg / (s cm2)"
        assert header["CNTUNT"] == "erg / (Angstrom s cm2)"
        assert header["ZSYS"] == 0.0
        # one card per spectrum, in spectrum order
        norms = [card.value for card in header.cards if card.keyword == "NRMFCTRS"]
        np.testing.assert_allclose(norms, [1.85817932213250e-16, 2.07363896057668e-16], rtol=1e-7)
        table = QTable.read(hdu)
        np.testing.assert_array_equal(table["percentile"], PCT)
        for name, unite_values in PARAMETER_VALUES.items():
            np.testing.assert_allclose(
                np.asarray(table[name].value), unite_values, rtol=1e-6, atol=0, err_msg=name
            )
        for name in ("flux_scale_grism", "r_scale_hires"):
            np.testing.assert_array_equal(table[name], [1.0, 1.0, 1.0])
        np.testing.assert_array_equal(table["pix_offset_grism"], [0.0, 0.0, 0.0])


def test_spectrum_extensions(hdul_path, args):
    tables = results.make_spectra_tables(SAMPLES, args, percentiles=PCT, insert_nan=True)
    with fits.open(hdul_path) as hdul:
        for ext, name, norm in (
            ("GRISM", "grism", 1.85817932213250e-16),
            ("HIRES", "hires", 2.07363896057668e-16),
        ):
            hdu = hdul[ext]
            assert _columns(hdu) == SPECTRUM_COLUMNS
            assert hdu.header["SPECNAME"] == name
            assert hdu.header["NORMFAC"] == pytest.approx(norm, rel=1e-7)
            assert hdu.data["model_total"].shape[1] == 3
            read = QTable.read(hdu)
            for column in read.colnames:
                np.testing.assert_array_equal(
                    np.asarray(read[column].value), np.asarray(tables[name][column].value)
                )
        grism = hdul["GRISM"].data
        # unite: 369 rows, the two NaN rows of the gap between the regions at 149 and 150
        assert len(grism) == 369
        nan_rows = np.flatnonzero(np.isnan(grism["model_total"][:, 1]))
        np.testing.assert_array_equal(nan_rows, [149, 150])
        np.testing.assert_allclose(
            grism["wavelength"][148:152],
            [6449.416016, 6450.417969, 6480.466797, 6481.46875],
            rtol=2e-7,  # unite stores float32 wavelengths
        )
        # unite writes 681 rows here: it inserts the gap's NaN rows even though no pixel of
        # this spectrum lies in the first region (docs/differences.md); unite_stan inserts none
        assert len(hdul["HIRES"].data) == 679
        assert not np.isnan(hdul["HIRES"].data["model_total"]).any()
        for ext, column, wavelength, unite_values in SPECTRUM_VALUES:
            data = hdul[ext].data
            row = int(np.nanargmin(np.abs(data["wavelength"] - wavelength)))
            assert data["wavelength"][row] == pytest.approx(wavelength, abs=1e-3)
            np.testing.assert_allclose(
                data[column][row], unite_values, rtol=1e-4, err_msg=f"{ext} {column}"
            )


def test_spectra_tables_as_hdul_on_disk(args, tmp_path):
    tables = results.make_spectra_tables(SAMPLES, args, percentiles=[0.5])
    path = tmp_path / "spectra.fits"
    results.make_spectra_tables(SAMPLES, args, percentiles=[0.5], return_hdul=True).writeto(path)
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "GRISM", "HIRES"]
        # an empty primary HDU, as unite's
        assert list(hdul[0].header) == ["SIMPLE", "BITPIX", "NAXIS", "EXTEND"]
        for ext, name in (("GRISM", "grism"), ("HIRES", "hires")):
            hdu = hdul[ext]
            assert _columns(hdu) == SPECTRUM_COLUMNS
            assert hdu.header["TDIM2"] == "(1)"
            read = QTable.read(hdu)
            assert len(read) == len(tables[name])
            for column in read.colnames:
                # od_abs is dimensionless: no TUNIT, so it reads back without a unit
                assert u.Unit(read[column].unit or "") == tables[name][column].unit
                np.testing.assert_array_equal(
                    np.asarray(read[column].value), np.asarray(tables[name][column].value)
                )


def test_prediction_field_names_are_unite_s(args):
    # unite's SpectrumPrediction calls the per-region continua ``continuum_regions``; the
    # tables' region columns come from it
    from unite_stan.compute import evaluate_model

    grism, hires = evaluate_model(SAMPLES, args)
    assert list(grism.continuum_regions) == ["linear_6300_6450", "linear_6480_6700"]
    assert grism.continua is grism.continuum_regions
    assert list(grism.lines) == ["Ha", "NII_6549.86", "NII_6585.27", "abs"]
    assert list(grism.tau_profiles) == ["abs"]
    assert grism.total.shape == (3, grism.wavelength.size)
    np.testing.assert_array_equal(
        grism.continuum_regions["linear_6480_6700"][:, grism.wavelength < 6450.0], 0.0
    )
    assert hires.name == "hires"


def test_hdul_of_a_parameter_table_is_make_hdul(args, hdul_path, tmp_path):
    # the batch layer makes the parameter table once and builds the FITS file around it
    params = results.make_parameter_table(SAMPLES, args, percentiles=PCT)
    path = tmp_path / "again.fits"
    results.hdul_of(params, SAMPLES, args, percentiles=PCT, insert_nan=True).writeto(path)
    assert path.read_bytes() == hdul_path.read_bytes()
