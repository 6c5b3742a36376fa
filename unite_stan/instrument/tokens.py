"""Calibration tokens of a disperser: resolution scale, flux scale and pixel offset.

Each disperser carries one token per slot; sharing a token instance between dispersers makes
them share one parameter. The site name is ``{slot}_{label}`` for a labelled token and is
otherwise assigned by :class:`~unite_stan.instrument.config.InstrumentConfig`.
"""

from __future__ import annotations

from unite_stan.prior import Fixed, Parameter

__all__ = ["CALIBRATION_SLOTS", "FluxScale", "PixOffset", "RScale"]


class RScale(Parameter):
    """Multiplier of the resolving power ``R`` (the LSF FWHM scales as ``1 / r_scale``)."""

    _default_prior = Fixed(1.0)
    _site_prefix = "r_scale"


class FluxScale(Parameter):
    """Multiplier of the whole model of every spectrum taken with the disperser."""

    _default_prior = Fixed(1.0)
    _site_prefix = "flux_scale"


class PixOffset(Parameter):
    """Shift of the pixel grid in pixels; positive values move the wavelengths blueward."""

    _default_prior = Fixed(0.0)
    _site_prefix = "pix_offset"


#: slot name → token class, in the order the slots are listed and named
CALIBRATION_SLOTS: dict[str, type[Parameter]] = {
    "r_scale": RScale,
    "flux_scale": FluxScale,
    "pix_offset": PixOffset,
}
