"""Disperser attributes assignable as in unite (``name`` and the three calibration tokens).

unite 3.5.2 accepts these assignments; unite_stan checks the values (a string name, a token of
the slot's class or None)."""

import re

import astropy.units as u
import numpy as np
import pytest

from unite_stan.instrument import FluxScale, InstrumentConfig, PixOffset, RScale
from unite_stan.instrument.generic import SimpleDisperser
from unite_stan.prior import Fixed, Uniform

WL = np.linspace(1.0, 2.0, 11) * u.micron


def test_name_assignment_names_the_calibration_sites():
    grism = SimpleDisperser(WL, R=100.0)
    grism.name = "grism"
    assert grism.name == "grism"
    InstrumentConfig([grism])
    assert [t.name for t in grism.calibration_tokens.values()] == [
        "r_scale_grism",
        "flux_scale_grism",
        "pix_offset_grism",
    ]
    with pytest.raises(TypeError, match=re.escape("name=None (NoneType) must be a string")):
        grism.name = None


def test_calibration_tokens_are_assignable():
    grism = SimpleDisperser(WL, R=100.0, name="grism")
    assert not grism.has_calibration_params
    r = RScale(prior=Uniform(0.9, 1.1))
    grism.r_scale = r
    grism.flux_scale = FluxScale("cal", prior=Uniform(0.5, 2.0))
    grism.pix_offset = PixOffset(prior=Uniform(-1.0, 1.0))
    assert grism.r_scale is r
    assert grism.has_calibration_params
    InstrumentConfig([grism])
    assert [t.name for t in grism.calibration_tokens.values()] == [
        "r_scale_grism",
        "flux_scale_cal",
        "pix_offset_grism",
    ]


def test_calibration_assignment_checks_the_token_class_and_none_resets():
    grism = SimpleDisperser(WL, R=100.0, name="grism")
    message = "r_scale=FluxScale(prior=Fixed(1)) must be a RScale token (or None for Fixed 1), not FluxScale"
    with pytest.raises(TypeError, match=re.escape(message)):
        grism.r_scale = FluxScale()
    grism.pix_offset = PixOffset(prior=Uniform(-1.0, 1.0))
    grism.pix_offset = None
    assert isinstance(grism.pix_offset, PixOffset)
    assert isinstance(grism.pix_offset.prior, Fixed)
    assert grism.pix_offset.prior.resolved_value({}) == 0.0
    assert not grism.has_calibration_params
