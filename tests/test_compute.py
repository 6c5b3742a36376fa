"""The numpy forward model's windowed profile evaluation against the full evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from unite_stan.compute import _profile_cdf
from unite_stan.line.library import Gaussian


@pytest.mark.parametrize(
    "centres, edges",
    [
        ([6563.0, 6563.4, 6562.7], np.linspace(6400.0, 6700.0, 301)),  # line inside, 3 draws
        ([6100.0, 6100.2], np.linspace(6400.0, 6700.0, 301)),  # left of the spectrum
        ([6900.0], np.linspace(6400.0, 6700.0, 301)),  # right of it
        ([6500.5], np.linspace(6400.0, 6700.0, 4)),  # within one 100 A interval
    ],
)
def test_windowed_cdf_equals_the_full_cdf(centres, edges):
    profile = Gaussian()
    centre = np.array(centres)[:, None]
    e = np.tile(edges, (centre.shape[0], 1)) + np.linspace(0.0, 0.3, centre.shape[0])[:, None]
    widths = {"fwhm_gauss": np.array([4.0, 5.0, 3.0])[: centre.shape[0], None]}
    lsf = e / 1500.0
    full = profile.cdf(e - centre, widths, lsf)
    windowed = _profile_cdf(profile, e, centre, widths, lsf)
    np.testing.assert_allclose(windowed, full, rtol=0, atol=1e-15)
    assert set(np.unique(windowed[full == 0.0])) <= {0.0}
