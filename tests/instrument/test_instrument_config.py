"""InstrumentConfig: name checks, calibration site names, validate()."""

import warnings

import astropy.units as u
import numpy as np
import pytest

from unite_stan.instrument import FluxScale, InstrumentConfig, PixOffset, RScale
from unite_stan.instrument.generic import SimpleDisperser
from unite_stan.prior import Uniform

WL = np.linspace(1.0, 2.0, 11) * u.micron


def disperser(name="", **tokens):
    return SimpleDisperser(WL, R=1000.0, name=name, **tokens)


def test_single_named_disperser_names_its_private_tokens():
    grism = disperser("grism")
    config = InstrumentConfig([grism])
    assert grism.r_scale.name == "r_scale_grism"
    assert grism.flux_scale.name == "flux_scale_grism"
    assert grism.pix_offset.name == "pix_offset_grism"
    assert list(config.calibration_params) == [
        "r_scale_grism",
        "flux_scale_grism",
        "pix_offset_grism",
    ]


def test_shared_anonymous_token_gets_a_letter():
    shared = RScale(prior=Uniform(0.8, 1.2))
    other = FluxScale(prior=Uniform(0.8, 1.2))
    a = disperser("G235H", r_scale=shared, flux_scale=other)
    b = disperser("G395H", r_scale=shared, flux_scale=other)
    InstrumentConfig([a, b])
    assert shared.name == "r_scale_a"
    assert other.name == "flux_scale_a"
    assert a.pix_offset.name == "pix_offset_G235H"
    assert b.pix_offset.name == "pix_offset_G395H"


def test_letters_count_per_slot():
    first, second = RScale(), RScale()
    InstrumentConfig(
        [disperser("x", r_scale=first), disperser("y", r_scale=first)]
        + [disperser("z", r_scale=second), disperser("w", r_scale=second)]
    )
    assert (first.name, second.name) == ("r_scale_a", "r_scale_b")


def test_labelled_token_keeps_its_label_even_when_shared():
    token = PixOffset("cal", prior=Uniform(-1, 1))
    a, b = disperser("a", pix_offset=token), disperser("b", pix_offset=token)
    config = InstrumentConfig([a, b])
    assert token.name == "pix_offset_cal"
    assert "pix_offset_cal" in config.calibration_params


def test_anonymous_name_never_clashes_with_a_label():
    labelled = RScale("b")
    a = disperser("a", r_scale=labelled)
    b = disperser("b")
    InstrumentConfig([a, b])
    assert labelled.name == "r_scale_b"
    assert b.r_scale.name == "r_scale_a"


def test_two_tokens_with_the_same_label_are_rejected():
    with pytest.raises(ValueError, match="duplicate calibration site name 'r_scale_cal'"):
        InstrumentConfig(
            [disperser("a", r_scale=RScale("cal")), disperser("b", r_scale=RScale("cal"))]
        )


def test_empty_names_are_rejected_with_indices_and_fix():
    with pytest.raises(ValueError, match=r"Dispersers at indices \[0, 2\] have empty names.*name="):
        InstrumentConfig([disperser(), disperser("b"), disperser()])


def test_duplicate_names_are_rejected():
    with pytest.raises(ValueError, match=r"'g' at indices \[0, 1\]"):
        InstrumentConfig([disperser("g"), disperser("g")])


def test_container_api():
    a, b = disperser("a"), disperser("b")
    config = InstrumentConfig([a, b, a])
    assert len(config) == 2
    assert config.names == ["a", "b"]
    assert config[1] is b and config["a"] is a
    assert list(config) == [a, b]
    with pytest.raises(KeyError, match="valid names are \\['a', 'b'\\]"):
        config["c"]
    assert (InstrumentConfig([a]) + InstrumentConfig([b])).names == ["a", "b"]
    assert "r_scale_a" in str(config)


def test_rejects_non_dispersers_and_empty():
    with pytest.raises(TypeError, match=r"dispersers\[0\]"):
        InstrumentConfig(["grism"])
    with pytest.raises(ValueError, match="at least one"):
        InstrumentConfig([])


def test_validate_warns_when_nothing_anchors_flux_or_offset():
    free = dict(
        flux_scale=FluxScale(prior=Uniform(0.5, 2)), pix_offset=PixOffset(prior=Uniform(-2, 2))
    )
    free_b = dict(
        flux_scale=FluxScale(prior=Uniform(0.5, 2)), pix_offset=PixOffset(prior=Uniform(-2, 2))
    )
    config = InstrumentConfig([disperser("a", **free), disperser("b", **free_b)])
    with pytest.warns(UserWarning) as record:
        config.validate()
    messages = [str(w.message) for w in record]
    assert any("Fixed flux_scale" in m for m in messages)
    assert any("Fixed pix_offset" in m for m in messages)


def test_validate_silent_when_anchored_or_single():
    anchored = InstrumentConfig(
        [disperser("a"), disperser("b", flux_scale=FluxScale(prior=Uniform(0.5, 2)))]
    )
    single = InstrumentConfig([disperser("c", flux_scale=FluxScale(prior=Uniform(0.5, 2)))])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        anchored.validate()
        single.validate()
