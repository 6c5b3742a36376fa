"""Spectrum.from_specutils / to_specutils (unite_stan's addition, specutils >= 2.0)."""

import re
import sys

import astropy.units as u
import numpy as np
import pytest

from unite_stan.instrument.generic import SimpleDisperser
from unite_stan.spectrum import Spectrum, from_edges

specutils = pytest.importorskip(
    "specutils",
    minversion="2.0",
    reason="specutils >= 2.0 not installed (pip install 'unite-stan[test]')",
)
from astropy.nddata import InverseVariance, StdDevUncertainty, VarianceUncertainty  # noqa: E402

F_LAMBDA = u.erg / u.s / u.cm**2 / u.AA


def grism():
    return SimpleDisperser(np.linspace(6000.0, 7000.0, 11) * u.AA, R=1500.0, name="grism")


def test_from_specutils_edges_mask_and_errors():
    edges = np.array([6500.0, 6501.0, 6502.5, 6503.0, 6504.0]) * u.AA
    flux = np.array([1.0, 2.0, np.nan, 4.0]) * 1e-17 * F_LAMBDA
    spec1d = specutils.Spectrum(
        flux=flux,
        spectral_axis=edges,
        uncertainty=InverseVariance(np.array([4.0, 16.0, 1.0, 100.0]) / (1e-17 * F_LAMBDA) ** 2),
        mask=np.array([False, False, True, False]),
    )
    spec = Spectrum.from_specutils(spec1d, grism())
    assert spec.name == "grism" and spec.npix == 3
    np.testing.assert_array_equal(spec.low, [6500.0, 6501.0, 6503.0])
    np.testing.assert_array_equal(spec.high, [6501.0, 6502.5, 6504.0])
    np.testing.assert_allclose(spec.flux, [1.0e-17, 2.0e-17, 4.0e-17])
    np.testing.assert_allclose(spec.error, [0.5e-17, 0.25e-17, 0.1e-17])
    assert spec.flux_unit == F_LAMBDA


def test_from_specutils_variance_fnu_and_frequency_axis():
    centres = np.array([6500.0, 6501.0, 6502.0]) * u.AA
    spec1d = specutils.Spectrum(
        flux=np.array([1.0, 2.0, 3.0]) * u.mJy,
        spectral_axis=centres.to(u.THz, u.spectral())[::-1],
        uncertainty=VarianceUncertainty(np.array([0.04, 0.01, 0.09]) * u.mJy**2),
    )
    spec = Spectrum.from_specutils(spec1d, grism(), name="s")
    assert spec.name == "s" and spec.npix == 3 and spec.unit == u.AA
    assert spec.flux_unit == u.erg / u.s / u.cm**2 / u.AA
    assert np.all(np.diff(spec.wavelength) > 0)
    lam = spec.wavelength * u.AA
    expect = (np.array([3.0, 2.0, 1.0]) * u.mJy).to(F_LAMBDA, u.spectral_density(lam))
    np.testing.assert_allclose(spec.flux, expect.value, rtol=1e-12)
    err = (np.array([0.3, 0.1, 0.2]) * u.mJy).to(F_LAMBDA, u.spectral_density(lam))
    np.testing.assert_allclose(spec.error, err.value, rtol=1e-12)


def test_round_trip_keeps_gaps():
    low = np.array([6500.0, 6501.0, 6503.0]) * u.AA
    high = np.array([6501.0, 6502.0, 6504.0]) * u.AA
    flux = np.array([1.0, 2.0, 3.0]) * 1e-17 * F_LAMBDA
    spec = from_edges(low, high, flux, 0.1 * flux, grism(), name="orig")
    out = spec.to_specutils()
    assert isinstance(out, specutils.Spectrum) and out.meta["name"] == "orig"
    assert out.mask.tolist() == [False, False, True, False]
    np.testing.assert_array_equal(out.spectral_axis.bin_edges.value, spec.edges)
    assert isinstance(out.uncertainty, StdDevUncertainty)
    back = Spectrum.from_specutils(out, spec.disperser, name="orig")
    np.testing.assert_array_equal(back.edges, spec.edges)
    np.testing.assert_array_equal(back.keep_mask, spec.keep_mask)
    np.testing.assert_array_equal(back.flux, spec.flux)
    np.testing.assert_array_equal(back.error, spec.error)
    assert back.flux_unit == spec.flux_unit


def test_from_specutils_bad_input():
    axis = np.array([6500.0, 6501.0, 6502.0]) * u.AA
    no_unc = specutils.Spectrum(flux=np.ones(3) * F_LAMBDA, spectral_axis=axis)
    with pytest.raises(ValueError, match=re.escape("the specutils Spectrum has no uncertainty")):
        Spectrum.from_specutils(no_unc, grism())
    counts = specutils.Spectrum(
        flux=np.ones(3) * u.ct, spectral_axis=axis, uncertainty=StdDevUncertainty(np.ones(3) * u.ct)
    )
    with pytest.raises(
        u.UnitConversionError,
        match=re.escape("the specutils Spectrum has flux unit ct, which is neither f_lambda"),
    ):
        Spectrum.from_specutils(counts, grism())
    two_d = specutils.Spectrum(
        flux=np.ones((2, 4)) * F_LAMBDA,
        spectral_axis=np.arange(6500.0, 6504.0) * u.AA,
        uncertainty=StdDevUncertainty(np.ones((2, 4)) * F_LAMBDA),
    )
    with pytest.raises(
        ValueError,
        match=re.escape("the specutils Spectrum has flux of shape (2, 4); only 1-D spectra"),
    ):
        Spectrum.from_specutils(two_d, grism())
    with pytest.raises(
        TypeError, match=re.escape("spec1d must be a specutils.Spectrum, not ndarray")
    ):
        Spectrum.from_specutils(np.ones(3), grism())


def test_missing_specutils_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "specutils", None)
    spec = from_edges(
        [1.0, 2.0] * u.AA, [2.0, 3.0] * u.AA, [1.0, 1.0] * F_LAMBDA, [1.0, 1.0] * F_LAMBDA, grism()
    )
    with pytest.raises(ImportError, match=re.escape("pip install 'unite-stan[specutils]'")):
        spec.to_specutils()
