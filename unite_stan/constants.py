"""Physical and Gaussian constants shared by the modules (one definition each)."""

from __future__ import annotations

import math

import astropy.constants as const
import astropy.units as u

__all__ = ["C_KMS", "FWHM_TO_SIGMA", "K_FWHM"]

#: speed of light in km/s (astropy's value)
C_KMS = float(const.c.to_value(u.km / u.s))
#: FWHM -> standard deviation of a Gaussian
FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))
#: 2 sqrt(ln 2): erf(K_FWHM * x / FWHM) is the Gaussian CDF argument for a FWHM
K_FWHM = 2.0 * math.sqrt(math.log(2.0))
