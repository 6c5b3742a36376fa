"""NIRSpec dispersers: resolving power (spec §4 values), dispersion tables, errors, reprs, YAML
hooks and the calibration tokens."""

import re
import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits

from unite_stan._resources import data_dir
from unite_stan.instrument import InstrumentConfig, nirspec
from unite_stan.instrument.base import FluxScale, PixOffset, RScale
from unite_stan.instrument.nirspec import (
    G140H,
    G140M,
    G235H,
    G235M,
    G395H,
    G395M,
    PRISM,
    NIRSpec,
)
from unite_stan.prior import Fixed, Uniform

GRATING_CLASSES = [PRISM, G140M, G140H, G235M, G235H, G395M, G395H]


@pytest.mark.parametrize(
    ("r_source", "expected"),
    [("point", [59.6, 98.1, 188.1, 315.4]), ("uniform", [31.8, 48.7, 101.2, 179.9])],
)
def test_prism_resolution_matches_spec(r_source, expected):
    R = PRISM(r_source).R(np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_allclose(R, expected, atol=0.1)


@pytest.mark.parametrize(
    ("r_source", "expected"), [("point", [1383.3, 1719.0]), ("uniform", [758.1, 1012.8])]
)
def test_g395m_resolution_matches_spec(r_source, expected):
    np.testing.assert_allclose(G395M(r_source).R(np.array([3.0, 4.0])), expected, atol=0.1)


def test_point_source_polynomial_is_not_clamped_but_table_is():
    point, uniform = PRISM(), PRISM("uniform")
    # the polynomial keeps rising beyond the 6 µm end of the table ...
    assert point.R(7.0) > point.R(6.0) + 100
    # ... the uniform table is held at its end values
    table = nirspec.dispersion_table("prism")
    np.testing.assert_allclose(uniform.R(np.array([0.1, 7.0])), table["R"][[0, -1]])
    np.testing.assert_allclose(point.R(np.array([0.1, 7.0])), [385.72794, 1751.8712], rtol=1e-5)


def test_dispersion_is_linear_interpolation_of_the_table():
    table = nirspec.dispersion_table("g235h")
    w, dl = table["WAVELENGTH"], table["DLDS"]
    mid = 0.5 * (w[100] + w[101])
    d = G235H("uniform")
    np.testing.assert_allclose(d.dlam_dpix(w[100]), dl[100])
    np.testing.assert_allclose(d.dlam_dpix(mid), 0.5 * (dl[100] + dl[101]))
    np.testing.assert_allclose(d.dlam_dpix(np.array([0.1, 9.0])), dl[[0, -1]])
    # the dispersion does not depend on r_source
    np.testing.assert_allclose(G235H("point").dlam_dpix(w), dl)
    np.testing.assert_allclose(
        PRISM().dlam_dpix(np.array([1.0, 2.0])), [0.0142839, 0.0186786], rtol=1e-5
    )


def test_bundled_tables_and_provenance_note():
    folder = data_dir() / "nirspec"
    assert "de Graaff" in (folder / "README.md").read_text()
    for grating in nirspec.GRATINGS:
        with fits.open(folder / f"jwst_nirspec_{grating}_disp.fits") as hdul:
            assert hdul[1].columns.names == ["WAVELENGTH", "DLDS", "R"]
            assert np.all(np.diff(hdul[1].data["WAVELENGTH"]) > 0)


@pytest.mark.parametrize("cls", GRATING_CLASSES)
def test_grating_classes(cls):
    d = cls()
    grating = cls.__name__.lower()
    assert isinstance(d, NIRSpec)
    assert (d.grating, d.r_source, d.name, d.unit) == (grating, "point", cls.__name__, u.micron)
    # unite's unit object: astropy keeps micron and um apart in composed units (a line scale
    # of um data would read 'erg micron / (s um cm2)')
    assert d.unit is u.um
    generic = NIRSpec(grating.upper(), "uniform")
    w = np.linspace(*nirspec.dispersion_table(grating)["WAVELENGTH"][[0, -1]], 7)
    np.testing.assert_allclose(cls("uniform").R(w), generic.R(w))
    np.testing.assert_allclose(d.R(w), np.polyval(nirspec.POINT_SOURCE_POLYNOMIALS[grating], w))


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("point", "point"),
        ("point-source", "point"),
        ("Point_Source", "point"),
        ("uniform", "uniform"),
        ("uniformly-illuminated", "uniform"),
        ("uniformly_illuminated", "uniform"),
    ],
)
def test_r_source_aliases(alias, canonical):
    assert G395M(alias).r_source == canonical
    assert NIRSpec("g395m", alias).r_source == canonical


def test_reprs_and_names():
    assert repr(G395M()) == "G395M(r_source='point')"
    assert repr(PRISM("uniformly-illuminated", name="p")) == "PRISM(r_source='uniform')"
    assert repr(NIRSpec("G395M")) == "NIRSpec(grating='g395m', r_source='point')"
    assert repr(NIRSpec("prism", "uniform")) == "NIRSpec(grating='prism', r_source='uniform')"
    assert NIRSpec("g140h").name == "G140H"
    assert G235M(name="grating").name == "grating"
    assert str(G395M()).splitlines()[0] == "G395M(r_source='point')"


def test_unknown_grating():
    message = (
        "Unknown NIRSpec grating 'g999'; valid gratings (case-insensitive) are ['prism', "
        "'g140m', 'g140h', 'g235m', 'g235h', 'g395m', 'g395h']"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        NIRSpec("g999")
    with pytest.raises(ValueError, match=re.escape("Unknown NIRSpec grating 3;")):
        NIRSpec(3)


def test_unknown_r_source():
    message = (
        "Unknown r_source 'extended'; valid values are ['point', 'point-source', "
        "'point_source', 'uniform', 'uniformly-illuminated', 'uniformly_illuminated']"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        G395M("extended")
    with pytest.raises(ValueError, match=re.escape(message)):
        NIRSpec("prism", r_source="extended")


def test_tokens_importable_from_base_and_package():
    import unite_stan.instrument as instrument
    import unite_stan.instrument.tokens as tokens

    assert RScale is instrument.RScale is tokens.RScale
    assert FluxScale is instrument.FluxScale is tokens.FluxScale
    assert PixOffset is instrument.PixOffset is tokens.PixOffset
    assert RScale().prior.resolved_value({}) == 1.0
    assert PixOffset().prior.resolved_value({}) == 0.0


def test_tokens_shared_by_identity_across_dispersers():
    offset = PixOffset(prior=Uniform(-2, 2))
    flux = FluxScale(prior=Uniform(0.5, 2))
    prism, grating = PRISM(pix_offset=offset), G395M(flux_scale=flux, pix_offset=offset)
    config = InstrumentConfig([prism, grating])
    assert prism.pix_offset is grating.pix_offset is offset
    assert offset.name == "pix_offset_a"
    assert flux.name == "flux_scale_G395M"
    assert prism.r_scale is not grating.r_scale
    assert list(config.calibration_params) == [
        "r_scale_PRISM",
        "flux_scale_PRISM",
        "pix_offset_a",
        "r_scale_G395M",
        "flux_scale_G395M",
    ]
    labelled = RScale("nirspec", prior=Uniform(0.8, 1.2))
    assert G140M(r_scale=labelled).r_scale.name == "r_scale_nirspec"


FLUX_WARNING = (
    "No disperser among ['PRISM', 'G395M'] has a Fixed flux_scale: the flux_scale parameters "
    "are then degenerate with the line fluxes and continuum scales. Fix one of them, e.g. leave "
    "flux_scale=None on a reference disperser."
)
OFFSET_WARNING = (
    "No disperser among ['PRISM', 'G395M'] has a Fixed pix_offset: the pix_offset parameters "
    "are then degenerate with the redshifts. Fix one of them, e.g. leave pix_offset=None on a "
    "reference disperser."
)


def test_validate_warnings_exact():
    free = dict(
        flux_scale=FluxScale(prior=Uniform(0.5, 2)), pix_offset=PixOffset(prior=Uniform(-1, 1))
    )
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        InstrumentConfig([PRISM(**free), G395M(**free)]).validate()
    assert [str(w.message) for w in record] == [FLUX_WARNING, OFFSET_WARNING]
    assert all(w.category is UserWarning for w in record)

    # separately: only the flux scales are all free
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        InstrumentConfig(
            [PRISM(flux_scale=FluxScale(prior=Uniform(0.5, 2))), G395M(**free)]
        ).validate()
    assert [str(w.message) for w in record] == [FLUX_WARNING]

    # a Fixed token counts as an anchor even when it is not the default value
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        InstrumentConfig(
            [
                PRISM(
                    flux_scale=FluxScale(prior=Fixed(1.1)), pix_offset=PixOffset(prior=Fixed(0.3))
                ),
                G395M(**free),
            ]
        ).validate()
        InstrumentConfig([G395M(**free)]).validate()


@pytest.mark.parametrize("cls", GRATING_CLASSES)
def test_yaml_fields_round_trip(cls):
    d = cls("uniformly-illuminated", name="x")
    fields = d._yaml_fields()
    assert fields == {"grating": cls.__name__.lower(), "r_source": "uniform"}
    token = RScale(prior=Uniform(0.9, 1.1))
    back = cls._from_yaml_fields(fields, name="x", r_scale=token)
    assert type(back) is cls
    assert (back.grating, back.r_source, back.name) == (d.grating, "uniform", "x")
    assert back.r_scale is token


def test_yaml_fields_generic_nirspec():
    d = NIRSpec("G395M", name="grating")
    assert d._yaml_fields() == {"grating": "g395m", "r_source": "point"}
    back = NIRSpec._from_yaml_fields({"grating": "g395m", "r_source": "point"}, name="grating")
    assert type(back) is NIRSpec
    assert repr(back) == "NIRSpec(grating='g395m', r_source='point')"
    assert back.name == "grating"
    # a grating class needs no grating field; r_source defaults to 'point'
    assert repr(PRISM._from_yaml_fields({})) == "PRISM(r_source='point')"


def test_yaml_fields_errors():
    with pytest.raises(
        ValueError, match=re.escape("grating 'prism' contradicts type G395M (grating 'g395m')")
    ):
        G395M._from_yaml_fields({"grating": "prism", "r_source": "point"})
    with pytest.raises(
        ValueError,
        match=re.escape(
            "unknown G395M field(s) ['mode']; valid fields are ['grating', 'r_source']"
        ),
    ):
        G395M._from_yaml_fields({"mode": "fs"})
    with pytest.raises(ValueError, match=re.escape("a NIRSpec entry needs a 'grating' field")):
        NIRSpec._from_yaml_fields({"r_source": "point"})
    with pytest.raises(ValueError, match=re.escape("Unknown r_source 'slit'")):
        PRISM._from_yaml_fields({"grating": "PRISM", "r_source": "slit"})


def test_docs_example_runs(capsys):
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "instruments.md").read_text()
    (code,) = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exec(compile(code, "docs/instruments.md", "exec"), {})
    dl = float(G395M().dlam_dpix(4.0))
    assert capsys.readouterr().out.splitlines() == [
        "['PRISM', 'G395M']",
        "pix_offset_G395M",
        f"98.1 {round(dl, 5)}",
    ]
