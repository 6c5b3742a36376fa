"""from_arrays / from_edges / from_centers: edges from centres, masks, argument checks."""

import astropy.units as u
import numpy as np
import pytest

from unite_stan.instrument.generic import SimpleDisperser
from unite_stan.spectrum import from_arrays, from_centers, from_edges

FLAM = u.erg / u.s / u.cm**2 / u.AA
GRISM = SimpleDisperser(np.linspace(1000.0, 1010.0, 11) * u.AA, R=500.0, name="grism")
CENTERS = np.array([1.0, 2.0, 4.0, 5.0]) * u.AA
FLUX = np.ones(4) * FLAM
ERROR = 0.1 * np.ones(4) * FLAM


def test_from_centers_edges_are_midpoints_with_extrapolated_ends():
    spec = from_centers(CENTERS, FLUX, ERROR, GRISM)
    np.testing.assert_allclose(spec.low, [0.5, 1.5, 3.0, 4.5])
    np.testing.assert_allclose(spec.high, [1.5, 3.0, 4.5, 5.5])
    assert spec.keep_mask.all()  # shared edges, no gaps
    assert spec.name == "grism"


def test_from_centers_mask_applied_before_edges():
    mask = np.array([False, True, False, False])
    spec = from_centers(CENTERS, FLUX, ERROR, GRISM, mask=mask)
    np.testing.assert_allclose(spec.low, [-0.5, 2.5, 4.5])
    np.testing.assert_allclose(spec.high, [2.5, 4.5, 5.5])


def test_from_edges_mask_leaves_a_gap_and_hides_bad_values():
    flux = np.array([1.0, np.nan, 1.0, 1.0]) * FLAM
    error = np.array([0.1, 0.0, 0.1, 0.1]) * FLAM
    mask = np.array([False, True, False, False])
    spec = from_edges(CENTERS - 0.5 * u.AA, CENTERS + 0.5 * u.AA, flux, error, GRISM, mask=mask)
    assert spec.npix == 3
    np.testing.assert_array_equal(spec.keep_mask, [True, False, True, True])


def test_from_arrays_needs_edges_xor_centers():
    with pytest.raises(ValueError, match="either low and high .* or center"):
        from_arrays(flux=FLUX, error=ERROR, disperser=GRISM)
    with pytest.raises(ValueError, match=r"got \['low', 'center'\]"):
        from_arrays(low=CENTERS, center=CENTERS, flux=FLUX, error=ERROR, disperser=GRISM)
    with pytest.raises(ValueError, match=r"got \['low'\]"):
        from_arrays(low=CENTERS, flux=FLUX, error=ERROR, disperser=GRISM)


def test_mask_checks():
    with pytest.raises(ValueError, match=r"mask has shape \(3,\)"):
        from_centers(CENTERS, FLUX, ERROR, GRISM, mask=np.zeros(3, bool))
    with pytest.raises(TypeError, match="boolean"):
        from_centers(CENTERS, FLUX, ERROR, GRISM, mask=np.zeros(4))
    with pytest.raises(ValueError, match="drops every pixel"):
        from_centers(CENTERS, FLUX, ERROR, GRISM, mask=np.ones(4, bool))


def test_length_and_unit_checks():
    with pytest.raises(ValueError, match="array lengths differ"):
        from_centers(CENTERS, FLUX[:3], ERROR, GRISM)
    with pytest.raises(ValueError, match="at least two"):
        from_centers(CENTERS[:1], FLUX[:1], ERROR[:1], GRISM)
    with pytest.raises(u.UnitConversionError, match="not a length"):
        from_centers(CENTERS.value * u.kg, FLUX, ERROR, GRISM)
    with pytest.raises(TypeError, match="Quantity"):
        from_centers(CENTERS.value, FLUX, ERROR, GRISM)
    with pytest.raises(u.UnitConversionError, match="f_lambda"):
        from_centers(CENTERS, FLUX.value * u.mJy, ERROR.value * u.mJy, GRISM)
    with pytest.raises(ValueError, match="strictly increasing"):
        from_centers(CENTERS[::-1], FLUX, ERROR, GRISM)
