"""from_DJA, from_sdss_fits and from_desi_fits on small files written in the products' on-disk
layouts (values checked exactly) and on the three real files in tests/data/spectra/."""

import re
import sys
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits

from unite_stan.instrument.desi import DESIDisperser
from unite_stan.instrument.generic import SimpleDisperser
from unite_stan.instrument.sdss import SDSSDisperser
from unite_stan.spectrum import Spectra, from_desi_fits, from_DJA, from_edges, from_sdss_fits

sys.path.insert(0, str(Path(__file__).parent))
from survey_files import write_desi, write_dja, write_sdss  # noqa: E402

DATA = Path(__file__).parents[1] / "data" / "spectra"
DJA_FILE = DATA / "rubies-uds31-v4_prism-clear_4233_154183.spec.fits.gz"
SDSS_FILE = DATA / "spec-1678-53433-0425.fits.gz"
DESI_FILE = DATA / "desi-spectra-af558177.fits.gz"
F_LAMBDA = u.erg / u.s / u.cm**2 / u.AA
C_UM_PER_S = 2.99792458e14


def prism_like():
    return SimpleDisperser(np.linspace(0.5, 6.0, 50) * u.um, R=100.0, name="PRISM")


# ---- DJA -----------------------------------------------------------------------------------


def test_dja_small_file(tmp_path):
    wave = np.array([1.0, 1.1, 1.3, 1.4, 1.6])
    flux = np.array([2.0, np.nan, 4.0, 5.0, 6.0])  # µJy; NaN = masked
    err = np.array([0.5, 0.5, 1.0, 1.0, 2.0])
    write_dja(tmp_path / "x.spec.fits", wave, flux, err)
    spec = from_DJA(tmp_path / "x.spec.fits", prism_like())
    assert spec.name == "PRISM" and spec.npix == 4 and spec.unit == u.um
    assert spec.flux_unit == u.Unit(1e-16 * u.erg / u.s / u.cm**2 / u.um)
    # edges at midpoints of the whole grid; the masked pixel leaves a gap
    np.testing.assert_allclose(spec.low, [0.95, 1.2, 1.35, 1.5])
    np.testing.assert_allclose(spec.high, [1.05, 1.35, 1.5, 1.7])
    assert spec.keep_mask.tolist() == [True, False, True, True, True]
    # f_λ = f_ν c / λ²: 1 µJy = 1e-29 erg/s/cm²/Hz; per µm and in units of 1e-16
    keep = [0, 2, 3, 4]
    expect = flux[keep] * 1e-29 * C_UM_PER_S / wave[keep] ** 2 / 1e-16
    np.testing.assert_allclose(spec.flux, expect, rtol=1e-12)
    np.testing.assert_allclose(
        spec.error, err[keep] * 1e-29 * C_UM_PER_S / wave[keep] ** 2 / 1e-16, rtol=1e-12
    )


def test_dja_accepts_open_hdulist_and_name(tmp_path):
    write_dja(tmp_path / "x.fits", [1.0, 1.1, 1.2], [1.0, 2.0, 3.0], [1.0, 1.0, 1.0])
    with fits.open(tmp_path / "x.fits") as hdul:
        spec = from_DJA(hdul, prism_like(), name="mine")
        assert hdul["SPEC1D"].data is not None  # left open
    assert spec.name == "mine" and spec.npix == 3


def test_dja_disperser_unit_sets_wavelength_unit(tmp_path):
    write_dja(tmp_path / "x.fits", [1.0, 1.1, 1.2], [1.0, 2.0, 3.0], [1.0, 1.0, 1.0])
    grism = SimpleDisperser(np.linspace(5000, 30000, 20) * u.AA, R=100.0, name="g")
    spec = from_DJA(tmp_path / "x.fits", grism)
    assert spec.unit == u.AA
    np.testing.assert_allclose(spec.wavelength, [10000.0, 11000.0, 12000.0])


@pytest.mark.parametrize(
    "url", ["https://s3.amazonaws.com/msaexp-nirspec/x.spec.fits", "http://a/b.fits"]
)
def test_url_is_refused(url):
    msg = (
        f"from_DJA: {url!r} is a URL; unite_stan never downloads files. Download it first "
        "(e.g. with astropy.utils.data.download_file or curl) and pass the local path"
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        from_DJA(url, prism_like())
    with pytest.raises(ValueError, match=re.escape("from_sdss_fits: ")):
        from_sdss_fits(url, SDSSDisperser())
    with pytest.raises(ValueError, match=re.escape("from_desi_fits: ")):
        from_desi_fits(url)


def test_missing_file_and_hdu(tmp_path):
    with pytest.raises(
        FileNotFoundError,
        match=re.escape(f"from_DJA: no such file: {str(tmp_path / 'nope.fits')!r}"),
    ):
        from_DJA(tmp_path / "nope.fits", prism_like())
    fits.HDUList([fits.PrimaryHDU()]).writeto(tmp_path / "empty.fits")
    with pytest.raises(KeyError, match=re.escape("has no SPEC1D HDU (HDUs present: ['PRIMARY'])")):
        from_DJA(tmp_path / "empty.fits", prism_like())


# ---- SDSS ----------------------------------------------------------------------------------


def sdss_arrays(n=6):
    loglam = (3.6 + 1e-4 * np.arange(n)).astype(np.float32)
    flux = np.linspace(10.0, 15.0, n).astype(np.float32)
    ivar = np.full(n, 4.0, np.float32)
    ivar[2] = 0.0
    and_mask = np.zeros(n, np.int32)
    and_mask[4] = 1 << 23
    wdisp = np.linspace(0.8, 1.0, n).astype(np.float32)
    return loglam, flux, ivar, and_mask, wdisp


def test_sdss_small_file(tmp_path):
    loglam, flux, ivar, and_mask, wdisp = sdss_arrays()
    write_sdss(tmp_path / "spec.fits", loglam, flux, ivar, and_mask, wdisp)
    disperser = SDSSDisperser()
    spec = from_sdss_fits(tmp_path / "spec.fits", disperser)
    keep = [0, 1, 3, 5]
    ll = loglam.astype(float)
    half = 0.5 * np.diff(ll)
    low_all = 10 ** np.concatenate([[ll[0] - half[0]], ll[1:] - half])
    high_all = 10 ** np.concatenate([ll[:-1] + half, [ll[-1] + half[-1]]])
    assert spec.name == "SDSS" and spec.npix == 4 and spec.unit == u.AA
    assert spec.flux_unit == F_LAMBDA
    np.testing.assert_allclose(spec.low, low_all[keep], rtol=1e-14)
    np.testing.assert_allclose(spec.high, high_all[keep], rtol=1e-14)
    assert np.diff(spec.edges).size == spec.npix + 2  # two gaps
    np.testing.assert_allclose(spec.flux, flux[keep].astype(float) * 1e-17, rtol=1e-14)
    np.testing.assert_allclose(spec.error, 1e-17 / np.sqrt(ivar[keep].astype(float)), rtol=1e-14)
    # the disperser's grids now come from the file: σ = wdisp pixels
    lam = 10**ll
    dlam = np.gradient(lam)
    np.testing.assert_allclose(disperser.dlam_dpix(lam), dlam, rtol=1e-12)
    np.testing.assert_allclose(disperser.R(lam), lam / (2.355 * wdisp * dlam), rtol=1e-6)


def test_sdss_without_coadd(tmp_path):
    write_sdss(tmp_path / "spec.fits", *sdss_arrays(), coadd=False)
    msg = f"from_sdss_fits: {str(tmp_path / 'spec.fits')!r} has no COADD HDU (HDUs present: ['PRIMARY', 'SPECOBJ'])"
    with pytest.raises(KeyError, match=re.escape(msg)):
        from_sdss_fits(tmp_path / "spec.fits", SDSSDisperser())


def test_sdss_needs_sdss_disperser(tmp_path):
    write_sdss(tmp_path / "spec.fits", *sdss_arrays())
    grism = SimpleDisperser(np.linspace(4000, 9000, 5) * u.AA, R=2000.0, name="g")
    msg = "from_sdss_fits needs an SDSSDisperser (from unite_stan.instrument.sdss), got SimpleDisperser"
    with pytest.raises(TypeError, match=re.escape(msg)):
        from_sdss_fits(tmp_path / "spec.fits", grism)


def test_sdss_missing_column(tmp_path):
    loglam, flux, ivar, and_mask, wdisp = sdss_arrays()
    cols = [
        fits.Column(name="flux", format="E", array=flux),
        fits.Column(name="loglam", format="E", array=loglam),
    ]
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols, name="COADD")]).writeto(
        tmp_path / "s.fits"
    )
    with pytest.raises(
        KeyError, match=re.escape("has no column 'ivar' (columns: ['flux', 'loglam'])")
    ):
        from_sdss_fits(tmp_path / "s.fits", SDSSDisperser())


# ---- DESI ----------------------------------------------------------------------------------


def desi_arm(start, n=7, nspec=2):
    wavelength = start + 0.8 * np.arange(n)
    flux = np.arange(nspec * n, dtype=float).reshape(nspec, n) - 3.0
    ivar = np.full((nspec, n), 4.0)
    mask = np.zeros((nspec, n), np.int32)
    mask[1, 2] = 8
    ivar[1, 4] = 0.0
    resolution = np.zeros((nspec, 11, n))
    # a symmetric three-band LSF (σ² = 2 × 0.25 = 0.5 pixel²) and a wider five-band one
    resolution[0, 4:7] = np.array([0.25, 0.5, 0.25])[:, None]
    resolution[1, 3:8] = np.array([0.1, 0.2, 0.4, 0.2, 0.1])[:, None]
    return dict(wavelength=wavelength, flux=flux, ivar=ivar, mask=mask, resolution=resolution)


def test_desi_small_file(tmp_path):
    arms = {"B": desi_arm(3600.0), "R": desi_arm(5760.0)}
    write_desi(tmp_path / "coadd.fits", arms)
    with pytest.warns(UserWarning, match=re.escape("has no Z_WAVELENGTH HDU; arm 'Z' skipped")):
        spectra = from_desi_fits(tmp_path / "coadd.fits", index=1, name="gal")
    assert [s.name for s in spectra] == ["gal_b", "gal_r"]
    assert [repr(s.disperser) for s in spectra] == [
        "DESIDisperser(arm='B', name='b')",
        "DESIDisperser(arm='R', name='r')",
    ]
    b = spectra[0]
    keep = [0, 1, 3, 5, 6]
    wl = arms["B"]["wavelength"]
    assert b.npix == 5 and b.unit == u.AA and b.flux_unit == F_LAMBDA
    np.testing.assert_allclose(b.low, wl[keep] - 0.4)
    np.testing.assert_allclose(b.high, wl[keep] + 0.4)
    np.testing.assert_allclose(b.flux, (np.arange(7, 14) - 3.0)[keep] * 1e-17)
    np.testing.assert_allclose(b.error, np.full(5, 0.5e-17))
    # σ² of (0.1, 0.2, 0.4, 0.2, 0.1) at offsets −2…2: 2 × (4 × 0.1 + 0.2) = 1.2
    np.testing.assert_allclose(b.disperser.R(wl), wl / (2.355 * np.sqrt(1.2) * 0.8), rtol=1e-9)
    np.testing.assert_allclose(b.disperser.dlam_dpix(wl), 0.8)


def test_desi_index_dispersers_and_arms(tmp_path):
    write_desi(tmp_path / "coadd.fits", {"B": desi_arm(3600.0), "Z": desi_arm(7520.0)})
    blue = DESIDisperser("B", name="blue")
    spectra = from_desi_fits(tmp_path / "coadd.fits", dispersers={"b": blue}, arms=("z", "b"))
    assert [s.name for s in spectra] == ["z", "b"]
    assert spectra[1].disperser is blue
    wl = 3600.0 + 0.8 * np.arange(7)
    np.testing.assert_allclose(blue.R(wl), wl / (2.355 * np.sqrt(0.5) * 0.8), rtol=1e-9)
    assert spectra[1].npix == 7  # row 0 has no masked pixel


def test_desi_bad_input(tmp_path):
    write_desi(tmp_path / "coadd.fits", {"B": desi_arm(3600.0)})
    path = tmp_path / "coadd.fits"
    with pytest.raises(ValueError, match=re.escape("arm must be one of ('B', 'R', 'Z'), got 'X'")):
        from_desi_fits(path, arms=("B", "X"))
    msg = f"from_desi_fits: index=2 is out of range; arm 'B' of {str(path)!r} holds 2 spectra (valid: 0 to 1)"
    with pytest.raises(IndexError, match=re.escape(msg)):
        from_desi_fits(path, arms=("B",), index=2)
    with pytest.raises(IndexError, match=re.escape("index=-1 is out of range")):
        from_desi_fits(path, arms=("B",), index=-1)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "dispersers['B']=DESIDisperser(arm='R', name='r') must be a DESIDisperser of arm 'B'"
        ),
    ):
        from_desi_fits(path, dispersers={"B": DESIDisperser("R")})
    with pytest.raises(
        ValueError, match=re.escape(f"none of the arms ['Z'] is in {str(path)!r}; nothing to load")
    ):
        with pytest.warns(UserWarning):
            from_desi_fits(path, arms=("Z",))


def test_fnu_flux_refused_where_flambda_required():
    grism = SimpleDisperser(np.linspace(1.0, 2.0, 5) * u.um, R=100.0, name="g")
    edges = np.linspace(1.0, 2.0, 4)
    msg = (
        "flux has unit uJy, which is not a flux density per unit wavelength (f_lambda, "
        "convertible to erg / (Angstrom s cm2)); convert f_nu first"
    )
    with pytest.raises(u.UnitConversionError, match=re.escape(msg)):
        from_edges(
            edges[:-1] * u.um, edges[1:] * u.um, np.ones(3) * u.uJy, np.ones(3) * u.uJy, grism
        )


# ---- the real files ------------------------------------------------------------------------


def test_real_dja():
    spec = from_DJA(DJA_FILE, prism_like())
    assert spec.npix == 468  # 473 rows, 5 masked (NaN flux at both ends)
    assert spec.unit == u.um and spec.flux_unit == u.Unit(1e-16 * u.erg / u.s / u.cm**2 / u.um)
    np.testing.assert_allclose(spec.wavelength_range, (0.54758, 5.505236), rtol=1e-6)
    # unite 3.5.2 gives the same first pixels (float32)
    np.testing.assert_allclose(spec.flux[:3], [4.885763, 9.640092, -2.8222256], rtol=1e-6)
    np.testing.assert_allclose(spec.error[:3], [16.898897, 7.0501676, 5.052907], rtol=1e-6)
    with fits.open(DJA_FILE) as hdul:
        row = hdul["SPEC1D"].data[3]
        assert hdul["SPEC1D"].header["TUNIT2"] == "uJy"
    assert spec.flux[0] == pytest.approx(
        row["flux"] * 1e-29 * C_UM_PER_S / row["wave"] ** 2 / 1e-16, rel=1e-12
    )


def test_real_sdss():
    disperser = SDSSDisperser()
    spec = from_sdss_fits(SDSS_FILE, disperser)
    assert spec.npix == 3825  # 3846 rows, 21 with and_mask != 0
    assert np.diff(spec.edges).size - spec.npix == 10  # the masked runs leave 10 gaps
    assert spec.unit == u.AA and spec.flux_unit == F_LAMBDA
    np.testing.assert_allclose(spec.wavelength_range, (3801.455, 9216.158), rtol=1e-6)
    np.testing.assert_allclose(
        spec.flux[:3], [4.8512886e-16, 5.4516089e-16, 5.2393419e-16], rtol=1e-6
    )
    with fits.open(SDSS_FILE) as hdul:
        coadd = hdul["COADD"].data
        assert hdul[0].header["PLATEID"] == 1678 and hdul[0].header["FIBERID"] == 425
        assert spec.error[0] == pytest.approx(1e-17 / np.sqrt(float(coadd["ivar"][0])), rel=1e-12)
        lam = 10 ** coadd["loglam"].astype(float)
        wdisp = coadd["wdisp"].astype(float)
    r = disperser.R(lam)
    np.testing.assert_allclose(r, lam / (2.355 * wdisp * np.gradient(lam)), rtol=1e-9)
    assert (r.min(), r.max()) == pytest.approx((1689.84, 2876.09), abs=0.01)


def test_real_desi():
    spectra = from_desi_fits(DESI_FILE)
    assert [(s.name, s.npix) for s in spectra] == [("b", 2751), ("r", 2326), ("z", 2881)]
    ranges = [s.wavelength_range for s in spectra]
    np.testing.assert_allclose(ranges, [(3599.6, 5800.4), (5759.6, 7620.4), (7519.6, 9824.4)])
    assert all(s.unit == u.AA and s.flux_unit == F_LAMBDA for s in spectra)
    # unite 3.5.2's R from the resolution matrix, and the file's flux
    np.testing.assert_allclose(
        spectra[0].disperser.R([4000.0, 5000.0]), [2585.6082, 3171.7026], rtol=1e-6
    )
    np.testing.assert_allclose(
        spectra[1].disperser.R([6000.0, 7000.0]), [4116.974, 4789.437], rtol=1e-6
    )
    r_ranges = [
        (s.disperser.R(s.wavelength).min(), s.disperser.R(s.wavelength).max()) for s in spectra
    ]
    np.testing.assert_allclose(
        r_ranges, [(2313.60, 3982.44), (3154.77, 5836.24), (2970.17, 6324.60)], atol=0.01
    )
    with fits.open(DESI_FILE) as hdul:
        assert hdul["R_FLUX"].header["BUNIT"] == "10**-17 erg/(s cm2 Angstrom)"
        assert spectra[1].flux[1000] == pytest.approx(
            float(hdul["R_FLUX"].data[0, 1000]) * 1e-17, rel=1e-12
        )
        assert hdul["REDSHIFTS"].data["Z"][0] == pytest.approx(1.2902562)
    assert repr(Spectra(spectra, redshift=1.29)) == "Spectra: 3 spectrum/a, z=1.2900"
