"""Spectrum: validation, edge topology, coverage queries, error scales."""

import astropy.units as u
import numpy as np
import pytest

from unite_stan.instrument.generic import SimpleDisperser
from unite_stan.spectrum import Spectrum

FLAM = u.erg / u.s / u.cm**2 / u.AA
GRISM = SimpleDisperser(np.linspace(1000.0, 1010.0, 11) * u.AA, R=500.0, name="grism")


def make(low=(1.0, 2.0, 4.0), high=(2.0, 3.0, 5.0), flux=None, error=None, **kwargs):
    n = len(low)
    flux = np.ones(n) * 1e-17 * FLAM if flux is None else flux
    error = np.full(n, 0.1) * 1e-17 * FLAM if error is None else error
    return Spectrum(np.asarray(low) * u.AA, np.asarray(high) * u.AA, flux, error, GRISM, **kwargs)


def test_edge_topology_with_a_gap():
    spec = make()
    np.testing.assert_array_equal(spec.edges, [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(spec.keep_mask, [True, True, False, True])
    np.testing.assert_array_equal(spec.pixel_idx, [0, 1, 3])
    np.testing.assert_array_equal(spec.midpoints, [1.5, 2.5, 3.5, 4.5])
    np.testing.assert_array_equal(spec.widths, [1, 1, 1, 1])
    np.testing.assert_array_equal(spec.midpoints[spec.pixel_idx], spec.wavelength)


def test_edges_shared_only_on_exact_equality():
    spec = make(low=(1.0, 2.0 + 1e-12), high=(2.0, 3.0))
    assert spec.edges.size == 4
    np.testing.assert_array_equal(spec.keep_mask, [True, False, True])


def test_properties_and_units():
    spec = Spectrum(
        [0.1, 0.2] * u.micron,
        [0.2, 0.3] * u.micron,
        np.array([1.0, 2.0]) * u.Unit(1e-17 * FLAM),
        np.array([0.1, 0.1]) * u.Unit(1e-18 * FLAM),
        GRISM,
    )
    np.testing.assert_allclose(spec.low, [1000.0, 2000.0])
    np.testing.assert_allclose(spec.wavelength, [1500.0, 2500.0])
    assert spec.unit == u.AA
    assert spec.flux_unit == u.Unit(1e-17 * FLAM)
    np.testing.assert_allclose(spec.error, [0.01, 0.01])
    assert spec.npix == 2
    assert spec.name == "grism"
    assert spec.wavelength_range == pytest.approx((1000.0, 3000.0))
    assert not spec.has_calibration_priors
    assert spec.scale_diagnostic is None
    with pytest.raises(ValueError):
        spec.flux[0] = 3.0  # stored data is read-only


def test_covers_is_any_overlap():
    spec = make()
    assert spec.covers(0.0, 1.5)
    assert spec.covers(3.2, 4.1)
    assert not spec.covers(3.0, 4.0)  # the gap only, edges excluded
    assert not spec.covers(5.0, 6.0)


def test_pixel_mask_is_strictly_inside():
    spec = make()
    np.testing.assert_array_equal(spec.pixel_mask(1.0, 5.0), [False, True, False])
    np.testing.assert_array_equal(spec.pixel_mask(0.5, 5.5), [True, True, True])
    np.testing.assert_array_equal(spec.pixel_mask(1.5, 4.5), [False, True, False])


def test_error_scale_scalar_and_per_pixel():
    spec = make()
    assert spec.error_scale == 1.0
    spec.error_scale = 2.0
    np.testing.assert_allclose(spec.scaled_error, 0.2e-17)
    spec.error_scale = [1.0, 2.0, 3.0]
    np.testing.assert_allclose(spec.scaled_error, [0.1e-17, 0.2e-17, 0.3e-17])
    with pytest.raises(ValueError, match=r"finite and > 0.*indices \[1\]"):
        spec.error_scale = [1.0, 0.0, 1.0]
    with pytest.raises(ValueError, match=r"shape \(2,\).*\(3,\)"):
        spec.error_scale = [1.0, 2.0]
    with pytest.raises(ValueError, match="finite and > 0"):
        spec.error_scale = np.nan


def test_select_keeps_pixels_and_error_scale():
    spec = make(name="s")
    spec.error_scale = [1.0, 2.0, 3.0]
    sub = spec._select(np.array([False, True, True]))
    np.testing.assert_array_equal(sub.low, [2.0, 4.0])
    np.testing.assert_array_equal(sub.error_scale, [2.0, 3.0])
    assert sub.name == "s" and sub.disperser is GRISM


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"flux": [1.0, np.nan, 1.0] * FLAM}, r"flux has NaN or infinite values .*\[1\]"),
        ({"flux": [1.0, np.inf, 1.0] * FLAM}, r"flux has NaN or infinite"),
        ({"error": [0.1, 0.0, 0.1] * FLAM}, r"error must be finite and > 0.*\[1\]"),
        ({"error": [0.1, -1.0, 0.1] * FLAM}, r"error must be finite and > 0"),
        ({"error": [np.nan, 1.0, 0.1] * FLAM}, r"error must be finite and > 0.*\[0\]"),
        ({"low": (1.0, 1.0, 4.0)}, r"low must be strictly increasing.*low\[0\]=1\.0"),
        ({"high": (2.0, 1.5, 5.0)}, r"high > low.*pixel 1 has low=2\.0, high=1\.5"),
        ({"high": (2.0, 3.0)}, r"array lengths differ.*'high': 2"),
        ({"low": (), "high": ()}, "no pixels"),
        ({"low": (1.0, np.nan, 4.0)}, "non-finite wavelengths"),
    ],
)
def test_invalid_input_raises_value_error(kwargs, message):
    if "low" in kwargs and "high" not in kwargs:
        kwargs["high"] = (2.0, 3.0, 5.0)
    n = len(kwargs.get("low", (1, 2, 3)))
    if n == 0:
        kwargs |= {"flux": [] * FLAM, "error": [] * FLAM}
    with pytest.raises(ValueError, match=message):
        make(**kwargs)


def test_unit_errors():
    with pytest.raises(u.UnitConversionError, match="not a length"):
        Spectrum([1.0] * u.s, [2.0] * u.s, [1.0] * FLAM, [1.0] * FLAM, GRISM)
    with pytest.raises(TypeError, match="length Quantity"):
        Spectrum(np.array([1.0]), [2.0] * u.AA, [1.0] * FLAM, [1.0] * FLAM, GRISM)
    with pytest.raises(u.UnitConversionError, match="f_lambda"):
        Spectrum([1.0] * u.AA, [2.0] * u.AA, [1.0] * u.Jy, [1.0] * u.Jy, GRISM)
    with pytest.raises(TypeError, match="f_lambda Quantity"):
        Spectrum([1.0] * u.AA, [2.0] * u.AA, np.ones(1), [1.0] * FLAM, GRISM)
    with pytest.raises(TypeError, match="not a Disperser"):
        Spectrum([1.0] * u.AA, [2.0] * u.AA, [1.0] * FLAM, [1.0] * FLAM, "grism")


def test_str_lists_calibration_tokens():
    text = str(make())
    assert "Spectrum(name='grism', npix=3" in text
    assert "r_scale" in text and "pix_offset" in text
