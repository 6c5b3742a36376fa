"""Configuration files in unite's YAML layout (spec §2.9, §5): round trips, a hand-written
file, a file written by unite 3.5.2, and bad input."""

from __future__ import annotations

import re
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import yaml
from conftest import tutorial_spectrum

from unite_stan import continuum, line, model, prior, spectrum
from unite_stan.config import Configuration
from unite_stan.instrument import FluxScale, InstrumentConfig, PixOffset, RScale
from unite_stan.instrument.base import DISPERSERS, Disperser
from unite_stan.instrument.generic import SimpleDisperser

DATA = Path(__file__).parent / "data"


class ToyGrating(Disperser):
    """A serialisable test disperser: constant R, written as {'resolution': R}."""

    def __init__(self, resolution, *, name="", r_scale=None, flux_scale=None, pix_offset=None):
        super().__init__(
            u.um, name=name, r_scale=r_scale, flux_scale=flux_scale, pix_offset=pix_offset
        )
        self.resolution = resolution

    def R(self, wavelength):
        return np.full_like(np.asarray(wavelength, dtype=float), self.resolution)

    def dlam_dpix(self, wavelength):
        return np.asarray(wavelength, dtype=float) / (2.2 * self.resolution)

    def _yaml_fields(self):
        return {"resolution": self.resolution}


# ---- configurations ---------------------------------------------------------------------------


def lines_config():
    z = line.Redshift("narrow")
    fw = line.FWHM("narrow", prior=prior.Uniform(0, 500, init=200.0))
    fb = line.FWHM("broad", prior=prior.Uniform(fw + 100, 3 * fw))
    flux = line.Flux("NII", prior=prior.TruncatedNormal(0.0, 1.0, -3.0, 3.0, init=0.5))
    lc = line.LineConfiguration()
    lc.add_line("Ha", 6564.61 * u.AA, redshift=z, fwhm_gauss=fw)
    lc.add_lines(
        "NII", [6549.86, 6585.27] * u.AA, redshift=z, fwhm_gauss=fw, flux=flux,
        strength=[0.34, 1.0],
    )  # fmt: skip
    lc.add_line("Ha_broad", 6564.61 * u.AA, profile="voigt", redshift=z, fwhm_gauss=fb)
    lc.add_line(
        "abs", 0.65646 * u.um, redshift=z, tau=line.Tau(), zorder=3,
        covering_fraction=line.CoveringFraction(prior=prior.Uniform(0.2, 1.0)),
    )  # fmt: skip
    lc.add_line(
        "OIII", 5008.24 * u.AA, profile="gauss-hermite",
        redshift=line.Redshift(prior=prior.Fixed(0.001)),
        fwhm_gauss=line.FWHM(prior=prior.Fixed(fw * 1.5)), zorder=2,
    )  # fmt: skip
    return lc


def continuum_config():
    shared_form = continuum.Linear()
    scale = continuum.Scale("shared", prior=prior.Uniform(0.0, 5.0))
    regions = [
        continuum.ContinuumRegion(6400 * u.AA, 6500 * u.AA, shared_form, {"scale": scale}),
        continuum.ContinuumRegion(6600 * u.AA, 6700 * u.AA, shared_form, {"scale": scale}),
        continuum.ContinuumRegion(
            4900 * u.AA, 5100 * u.AA, continuum.Chebyshev(3, stretch=1.5), name="blue"
        ),
        continuum.ContinuumRegion(7000 * u.AA, 7200 * u.AA, continuum.BSpline([7100] * u.AA)),
    ]
    return continuum.ContinuumConfiguration(regions, zorder=2)


def instrument_config():
    shared_offset = PixOffset(prior=prior.Uniform(-1.0, 1.0))
    a = ToyGrating(100.0, name="lowres", flux_scale=FluxScale(prior=prior.Uniform(0.5, 2.0)),
                   pix_offset=shared_offset)  # fmt: skip
    b = ToyGrating(
        1000.0, name="hires", r_scale=RScale("g", prior=prior.TruncatedNormal(1, 0.1, 0.5, 1.5)),
        pix_offset=shared_offset,
    )  # fmt: skip
    return InstrumentConfig([a, b])


# ---- round trips ------------------------------------------------------------------------------


def test_lines_round_trip_keeps_tokens_expressions_and_values():
    lc = lines_config()
    text = lc.to_yaml()
    back = line.LineConfiguration.from_yaml(text)
    assert back.to_yaml() == text
    assert back.to_dict() == lc.to_dict()
    # unite's layout: sections in order of first appearance, 'lines' last
    assert list(yaml.safe_load(text)) == [
        "redshift", "fwhm_gauss", "flux", "fwhm_lorentz", "tau", "cf", "h3", "h4", "lines",
    ]  # fmt: skip
    # shared tokens are shared after loading
    assert back["Ha"].redshift is back["abs"].redshift is back["NII_6585.27"].redshift
    assert back["NII_6549.86"].flux is back["NII_6585.27"].flux
    narrow = back["Ha"].fwhms["fwhm_gauss"]
    assert back["NII_6549.86"].fwhms["fwhm_gauss"] is narrow
    # expression bounds refer to the loaded token itself
    broad = back["Ha_broad"].fwhms["fwhm_gauss"].prior
    assert broad.dependencies() == {narrow}
    assert broad.low.evaluate({narrow: 250.0}) == 350.0
    assert broad.high.evaluate({narrow: 250.0}) == 750.0
    fixed = back["OIII"].fwhms["fwhm_gauss"].prior
    assert isinstance(fixed, prior.Fixed) and fixed.resolved_value({narrow: 200.0}) == 300.0
    assert back["OIII"].redshift.prior.resolved_value({}) == 0.001
    # init values, strengths, zorders, units, profiles, covering fraction
    assert narrow.prior.init == 200.0
    assert back["NII_6549.86"].flux.prior.init == 0.5
    assert [e.strength for e in back] == [1.0, 0.34, 1.0, 1.0, 1.0, 1.0]
    assert [e.zorder for e in back] == [0, 0, 0, 0, 3, 2]
    assert back["abs"].wavelength == 0.65646 * u.um
    assert type(back["Ha_broad"].profile).__name__ == "PseudoVoigt"
    assert back["abs"].covering.name == "cf_abs"
    assert repr(back["abs"].covering.prior) == "Uniform(low=0.2, high=1)"


def test_line_entry_layout_is_units():
    d = lines_config().to_dict()
    assert d["lines"][1] == {
        "name": "NII_6549.86", "wavelength": 6549.86, "wavelength_unit": "Angstrom",
        "redshift": "z_narrow", "params": {"fwhm_gauss": "fwhm_gauss_narrow"},
        "flux": "flux_NII", "profile": {"type": "Gaussian"}, "strength": 0.34,
    }  # fmt: skip
    assert d["fwhm_gauss"]["fwhm_gauss_broad"] == {
        "prior": {
            "type": "Uniform",
            "low": {"op": "+", "left": {"ref": "fwhm_gauss_narrow"}, "right": 100.0},
            "high": {"op": "*", "left": 3.0, "right": {"ref": "fwhm_gauss_narrow"}},
        }
    }
    assert d["flux"]["flux_NII"]["prior"] == {
        "type": "TruncatedNormal", "loc": 0.0, "scale": 1.0, "low": -3.0, "high": 3.0,
        "init": 0.5,
    }  # fmt: skip


def test_continuum_round_trip_keeps_shared_forms_and_tokens():
    cc = continuum_config()
    text = cc.to_yaml()
    back = continuum.ContinuumConfiguration.from_yaml(text)
    assert back.to_yaml() == text
    d = yaml.safe_load(text)
    assert list(d) == ["params", "forms", "regions", "zorder"]
    assert d["forms"] == {
        "chebyshev_0": {"type": "Chebyshev", "order": 3, "stretch": 1.5},
        "linear_0": {"type": "Linear"},
        "bspline_0": {"type": "BSpline", "knots": [7100.0], "unit": "Angstrom", "degree": 3},
    }
    assert [r["form"] for r in d["regions"]] == ["chebyshev_0", "linear_0", "linear_0", "bspline_0"]
    assert d["regions"][0]["name"] == "blue"
    assert d["params"]["norm_wav_a"] == {"type": "Fixed", "value": 6450.0}
    assert d["params"]["norm_wav_b"] == {"type": "Fixed", "value": 6650.0}
    assert back.zorder == 2
    assert back[1].form is back[2].form
    assert back.resolved_params[1]["scale"] is back.resolved_params[2]["scale"]
    assert back.resolved_params[1]["scale"].name == "scale_shared"
    assert back.resolved_params[0]["c3"].name == "c3_blue"


def test_continuum_allow_overlap_round_trips():
    regions = [
        continuum.ContinuumRegion(6400 * u.AA, 6500 * u.AA),
        continuum.ContinuumRegion(6450 * u.AA, 6550 * u.AA),
    ]
    cc = continuum.ContinuumConfiguration(regions, allow_overlap=True)
    d = cc.to_dict()
    assert d["allow_overlap"] is True
    assert continuum.ContinuumConfiguration.from_dict(d).allow_overlap is True


def test_instrument_round_trip_with_a_serialisable_disperser():
    ic = instrument_config()
    text = ic.to_yaml()
    back = InstrumentConfig.from_yaml(text)
    assert back.to_yaml() == text
    d = yaml.safe_load(text)
    assert d["entries"][0] == {
        "type": "ToyGrating", "name": "lowres", "resolution": 100.0,
        "r_scale": "r_scale_lowres", "flux_scale": "flux_scale_lowres", "pix_offset": "pix_offset_a",
    }  # fmt: skip
    assert d["calib_params"]["r_scale_g"] == {
        "type": "RScale",
        "prior": {"type": "TruncatedNormal", "loc": 1.0, "scale": 0.1, "low": 0.5, "high": 1.5},
    }
    assert list(d["calib_params"]) == [
        "r_scale_lowres", "flux_scale_lowres", "pix_offset_a", "r_scale_g", "flux_scale_hires",
    ]  # fmt: skip
    assert back["lowres"].pix_offset is back["hires"].pix_offset
    assert back["hires"].resolution == 1000.0
    assert isinstance(back["hires"].r_scale, RScale)
    assert "ToyGrating" in DISPERSERS


def test_simple_disperser_is_not_serialisable():
    grism = SimpleDisperser(np.linspace(6200, 6800, 50) * u.AA, R=1200.0, name="grism")
    with pytest.raises(
        TypeError,
        match=re.escape(
            "SimpleDisperser (disperser 'grism') cannot be written to a configuration file: "
            "only NIRSpec gratings and SDSSDisperser are serialisable"
        ),
    ):
        InstrumentConfig([grism]).to_yaml()


@pytest.mark.filterwarnings("ignore:No disperser among")
def test_configuration_save_load(tmp_path):
    config = Configuration(lines_config(), continuum_config(), instrument_config())
    path = tmp_path / "config.yaml"
    config.save(path)
    back = Configuration.load(path)
    assert back.to_yaml() == path.read_text() == config.to_yaml()
    assert list(yaml.safe_load(path.read_text())) == ["lines", "continuum", "dispersers"]
    only_lines = Configuration(lines_config())
    assert list(only_lines.to_dict()) == ["lines"]
    assert Configuration.from_dict(only_lines.to_dict()).continuum is None


def test_configuration_validates_dispersers_on_construction_only():
    ic = InstrumentConfig([
        ToyGrating(100.0, name="a", flux_scale=FluxScale(prior=prior.Uniform(0.5, 2))),
        ToyGrating(200.0, name="b", flux_scale=FluxScale(prior=prior.Uniform(0.5, 2))),
    ])  # fmt: skip
    with pytest.warns(
        UserWarning, match="No disperser among \\['a', 'b'\\] has a Fixed flux_scale"
    ):
        config = Configuration(lines_config(), dispersers=ic)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Configuration.from_yaml(config.to_yaml())


def test_line_token_in_a_continuum_slot_stays_one_token():
    z = line.Redshift("narrow")
    lc = line.LineConfiguration()
    lc.add_line("Lya", 1215.67 * u.AA, redshift=z)
    cc = continuum.ContinuumConfiguration(
        [continuum.ContinuumRegion(1150 * u.AA, 1300 * u.AA, "DLAPowerLaw", {"redshift": z})]
    )
    back = Configuration.from_yaml(Configuration(lc, cc).to_yaml())
    assert back.continuum.resolved_params[0]["redshift"] is back.lines["Lya"].redshift


# ---- a file written by hand in unite's layout -------------------------------------------------


def handwritten_python():
    """The configuration tests/data/handwritten_unite_layout.yaml describes."""
    z = line.Redshift("narrow", prior=prior.Uniform(-0.001, 0.001))
    fw = line.FWHM("narrow", prior=prior.Uniform(50, 500))
    lc = line.LineConfiguration()
    lc.add_line(
        "Ha", 6563 * u.AA, redshift=z, fwhm_gauss=fw, flux=line.Flux(prior=prior.Uniform(0, 3))
    )
    lc.add_lines(
        "NII", [6549, 6585] * u.AA, redshift=z, fwhm_gauss=fw, strength=[0.34, 1],
        flux=line.Flux("NII", prior=prior.TruncatedNormal(1.0, 0.5, 0.0, 3.0, init=0.8)),
    )  # fmt: skip
    lc.add_line(
        "Ha_broad", 6563 * u.AA, profile="PseudoVoigt", redshift=z,
        fwhm_gauss=line.FWHM("broad", prior=prior.Uniform(fw + 150, 4 * fw)),
        fwhm_lorentz=line.FWHM(prior=prior.Fixed(120.0)),
        flux=line.Flux(prior=prior.Uniform(0, 2)),
    )  # fmt: skip
    lc.add_line(
        "SII_6717", 6717 * u.AA, redshift=z, fwhm_gauss=fw, flux=line.Flux(prior=prior.Fixed(0.25))
    )
    cc = continuum.ContinuumConfiguration([
        continuum.ContinuumRegion(6400 * u.AA, 6600 * u.AA, continuum.Linear(), name="blue"),
        continuum.ContinuumRegion(6650 * u.AA, 6800 * u.AA, continuum.Polynomial(1)),
    ])  # fmt: skip
    return lc, cc


def _program(lc, cc):
    spectra = spectrum.Spectra([tutorial_spectrum()], redshift=0.0)
    flc, fcc = spectra.prepare(lc, cc)
    spectra.compute_scales(flc, fcc, line_mask_width=3000 * u.km / u.s, box_width=2000 * u.km / u.s)
    program, _ = model.ModelBuilder(flc, fcc, spectra).build()
    return program


def test_handwritten_file_renders_the_python_configurations_program():
    path = DATA / "handwritten_unite_layout.yaml"
    loaded = Configuration.load(path)
    lc, cc = handwritten_python()
    assert loaded.lines.to_dict() == lc.to_dict()
    assert loaded.continuum.to_dict() == cc.to_dict()
    # the file is in the exact layout we write (its comment header aside)
    body = "".join(x for x in path.read_text().splitlines(True) if not x.startswith("#"))
    assert loaded.to_yaml() == body
    a, b = _program(loaded.lines, loaded.continuum), _program(lc, cc)
    assert a.code == b.code
    assert a.data.keys() == b.data.keys()
    for key in a.data:
        np.testing.assert_array_equal(a.data[key], b.data[key], err_msg=key)
    assert "fwhm_gauss_broad" in a.code


# ---- a file written by unite 3.5.2 ------------------------------------------------------------


UNITE_FILE = DATA / "unite_3.5.2_configuration.yaml"  # benchmarks/unite_yaml_fixture.py


def test_lines_and_continuum_written_by_unite_load_and_write_back_identically():
    text = UNITE_FILE.read_text()
    data = yaml.safe_load(text)
    lines = line.LineConfiguration.from_dict(data["lines"])
    cont = continuum.ContinuumConfiguration.from_dict(data["continuum"])
    # everything before the dispersers (which need the NIRSpec classes) is identical text
    assert Configuration(lines, cont).to_yaml() == text[: text.index("dispersers:\n")]
    assert lines["OIII_4960.3"].flux is lines["OIII_5008.24"].flux
    narrow = lines["Hb"].fwhms["fwhm_gauss"]
    assert narrow.prior.init == 200.0
    assert lines["Ha_broad"].fwhms["fwhm_gauss"].prior.dependencies() == {narrow}
    assert lines["HeI_abs"].fwhms["fwhm_gauss"].prior.resolved_value({narrow: 100.0}) == 150.0
    assert [r.name for r in cont] == ["OIII", None]


def test_file_written_by_unite_loads_and_writes_back_identically():
    pytest.importorskip("unite_stan.instrument.nirspec")
    text = UNITE_FILE.read_text()
    config = Configuration.load(UNITE_FILE)
    assert config.to_yaml() == text
    assert config.dispersers.names == ["PRISM", "G395M"]


# ---- bad input --------------------------------------------------------------------------------


def _broken(change):
    d = Configuration(lines_config(), continuum_config()).to_dict()
    change(d)
    return d


LINE_SITES = (
    "['z_narrow', 'z_OIII', 'fwhm_gauss_narrow', 'fwhm_gauss_broad', 'fwhm_gauss_abs', "
    "'fwhm_gauss_OIII', 'flux_Ha', 'flux_NII', 'flux_Ha_broad', 'flux_OIII', "
    "'fwhm_lorentz_Ha_broad', 'tau_abs', 'cf_abs', 'h3_OIII', 'h4_OIII']"
)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["lines"]["lines"][0].update(colour="red"),
            "unknown key 'colour' in lines[0]; valid keys are ['name', 'wavelength', "
            "'wavelength_unit', 'redshift', 'params', 'profile', 'flux', 'tau', "
            "'covering_fraction', 'strength', 'zorder']",
        ),
        (
            lambda d: d.update(model={}),
            "unknown key 'model' in the configuration; valid keys are ['lines', 'continuum', "
            "'dispersers']",
        ),
        (
            lambda d: d["lines"]["flux"]["flux_Ha"]["prior"].update(mean=1.0),
            "unknown key 'mean' in flux.flux_Ha.prior; valid keys are ['type', 'low', 'high', "
            "'init']",
        ),
        (
            lambda d: d["continuum"]["forms"]["chebyshev_0"].update(degree=3),
            "unknown key 'degree' in continuum forms.chebyshev_0; valid keys are ['type', "
            "'order', 'stretch']",
        ),
        (
            lambda d: d["lines"]["flux"]["flux_Ha"]["prior"].update(type="Normal"),
            "unknown prior type 'Normal' in flux.flux_Ha.prior; valid types are ['Uniform', "
            "'TruncatedNormal', 'Fixed']",
        ),
        (
            lambda d: d["continuum"]["forms"]["linear_0"].update(type="Spline"),
            "unknown continuum form type 'Spline' in continuum forms.linear_0; valid types are "
            "['AttenuatedBlackbody', 'BSpline', 'Bernstein', 'Blackbody', 'Chebyshev', "
            "'DLAPowerLaw', 'Legendre', 'Linear', 'ModifiedBlackbody', 'Polynomial', "
            "'PowerLaw', 'Template']",
        ),
        (
            lambda d: d["lines"]["lines"][0]["profile"].update(type="Moffat"),
            "unknown profile type 'Moffat'; valid types are ['BoxGauss', 'Cauchy', "
            "'GaussHermite', 'Gaussian', 'GaussianSplitLaplace', 'Laplace', 'PseudoVoigt', "
            "'SEMG', 'SkewNormal', 'SkewVoigt', 'SplitNormal']",
        ),
        (
            lambda d: d["lines"]["fwhm_gauss"]["fwhm_gauss_broad"]["prior"]["low"]["left"].update(
                ref="fwhm_gauss_wide"
            ),
            "fwhm_gauss.fwhm_gauss_broad.prior.low refers to unknown parameter "
            f"'fwhm_gauss_wide'; parameters defined in the file are {LINE_SITES}",
        ),
        (
            lambda d: d["lines"]["flux"]["flux_Ha"]["prior"].update(low=5.0, high=1.0),
            "flux.flux_Ha.prior: Uniform(low=5, high=1): low must be < high",
        ),
        (
            lambda d: d["lines"]["lines"][0].update(redshift="z_x"),
            "line 'Ha'.redshift refers to unknown parameter 'z_x'; parameters defined in the "
            f"file are {LINE_SITES}",
        ),
        (
            lambda d: d["continuum"]["regions"][0].update(form="linear_9"),
            "continuum regions[0].form refers to unknown form 'linear_9'; forms defined in the "
            "file are ['chebyshev_0', 'linear_0', 'bspline_0']",
        ),
        (
            lambda d: d["continuum"]["params"].update(extra={"type": "Fixed", "value": 1.0}),
            "parameters ['extra'] are defined but no continuum region uses them",
        ),
        (
            lambda d: d["lines"]["lines"][0].update(wavelength_unit="Angstroem"),
            "line 'Ha'.wavelength_unit='Angstroem' is not an astropy unit",
        ),
        (
            lambda d: d["continuum"]["regions"][1].update(wavelength_unit="km/s"),
            "continuum regions[1].wavelength_unit='km/s' is not a length unit",
        ),
        (
            lambda d: d["lines"]["lines"][0].pop("flux"),
            "line 'Ha' needs exactly one of 'flux' and 'tau'",
        ),
        (
            lambda d: d["lines"].update(fwhm_foo={}),
            "unknown key 'fwhm_foo' in the line configuration; valid keys are 'lines' and the "
            "parameter sections ['redshift', 'flux', 'tau', 'cf', 'alpha', 'fwhm_blue', "
            "'fwhm_box', 'fwhm_exp', 'fwhm_gauss', 'fwhm_l_blue', 'fwhm_l_red', "
            "'fwhm_lorentz', 'fwhm_red', 'h3', 'h4']",
        ),
    ],
)
def test_bad_configuration_dicts_are_refused(change, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Configuration.from_dict(_broken(change))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["entries"][0].update(type="SimpleDisperser"),
            "unknown disperser type 'SimpleDisperser' in entries[0]; valid types are ['G140H', "
            "'G140M', 'G235H', 'G235M', 'G395H', 'G395M', 'NIRSpec', 'PRISM', 'SDSSDisperser', "
            "'ToyGrating'] (only NIRSpec gratings and SDSSDisperser are serialisable)",
        ),
        (
            lambda d: d["entries"][0].update(slit="S200A1"),
            "unknown key 'slit' in entries[0] (ToyGrating 'lowres'); valid keys are ['type', "
            "'name', 'resolution', 'r_scale', 'flux_scale', 'pix_offset']",
        ),
        (
            lambda d: d["calib_params"]["r_scale_g"].update(type="Scale"),
            "unknown calibration token type 'Scale' in calib_params.r_scale_g; valid types are "
            "['RScale', 'FluxScale', 'PixOffset']",
        ),
        (
            lambda d: d["entries"][1].update(r_scale="r_scale_x"),
            "entries[1] (ToyGrating 'hires').r_scale refers to unknown parameter 'r_scale_x'",
        ),
    ],
)
def test_bad_instrument_dicts_are_refused(change, message):
    d = instrument_config().to_dict()
    change(d)
    with pytest.raises(ValueError, match=re.escape(message)):
        InstrumentConfig.from_dict(d)


def test_python_tags_are_refused():
    text = "lines: !!python/object/apply:os.system ['echo hello']\n"
    with pytest.raises(
        ValueError,
        match=re.escape(
            "cannot read the configuration: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object/apply:os.system'; configuration files are read "
            "with yaml.safe_load, which refuses Python object tags (!!python/...)"
        ),
    ):
        Configuration.from_yaml(text)


def test_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    d = _broken(lambda d: d["lines"]["lines"][2].update(colour="red"))
    path.write_text(yaml.safe_dump(d, sort_keys=False))
    with pytest.raises(
        ValueError, match=re.escape(f"{path}: unknown key 'colour' in lines[2]; valid keys")
    ):
        Configuration.load(path)
    tagged = tmp_path / "tagged.yaml"
    tagged.write_text("lines: !!python/name:os.system\n")
    with pytest.raises(ValueError, match=re.escape(f"cannot read the configuration in {tagged}:")):
        line.LineConfiguration.load(tagged)


def test_every_prior_type_round_trips_with_expressions_in_every_bound():
    a = line.FWHM("a", prior=prior.Uniform(10.0, 100.0))
    priors = {
        "uniform": prior.Uniform(a - 5.0, 2.0 * a + 1.0, init=None),
        "uniform_init": prior.Uniform(0.0, 10.0, init=2.5),
        "tn": prior.TruncatedNormal(a / 2.0, 3.0, 1.0 - a, a * a),
        "tn_init": prior.TruncatedNormal(1.0, 0.5, 0.0, 3.0, init=1.25),
        "fixed": prior.Fixed(a + a),
        "fixed_number": prior.Fixed(7.5),
    }
    lc = line.LineConfiguration()
    lc.add_line("ref", 5000 * u.AA, fwhm_gauss=a)
    for i, (label, p) in enumerate(priors.items()):
        lc.add_line(f"L{i}", (5010 + i) * u.AA, fwhm_gauss=line.FWHM(label, prior=p))
    back = line.LineConfiguration.from_yaml(lc.to_yaml())
    a2 = back["ref"].fwhms["fwhm_gauss"]
    for i, (label, p) in enumerate(priors.items()):
        q = back[f"L{i}"].fwhms["fwhm_gauss"].prior
        assert type(q) is type(p) and q.to_dict() == p.to_dict(), label
        assert q.dependencies() == ({a2} if p.dependencies() else set()), label
    tn = back["L2"].fwhms["fwhm_gauss"].prior
    assert tn.to_dist({a2: 4.0}) == ("truncated_normal", (2.0, 3.0, -3.0, 16.0))
    assert back["L0"].fwhms["fwhm_gauss"].prior.init is None
    assert back["L1"].fwhms["fwhm_gauss"].prior.init == 2.5


def test_template_region_round_trips(tmp_path):
    from continuum.test_forms import write_template

    wave = np.linspace(4000.0, 7000.0, 31)
    path = write_template(tmp_path / "t.ecsv", wave, {"old": wave / 5000.0, "young": 5000.0 / wave})
    region = continuum.ContinuumRegion(
        5000 * u.AA, 6000 * u.AA, continuum.Template(path, usecols=["young"])
    )
    d = continuum.ContinuumConfiguration([region]).to_dict()
    assert d["forms"] == {
        "template_0": {"type": "Template", "path": str(path), "usecols": ["young"]}
    }
    assert list(d["regions"][0]["params"]) == ["young_scale", "norm_wav"]
    back = continuum.ContinuumConfiguration.from_dict(d)
    assert back.to_dict() == d
    assert back[0].form == region.form


def test_configurations_add_part_by_part():
    a_lines, b_lines = line.LineConfiguration(), line.LineConfiguration()
    a_lines.add_line("Ha", 6564.61 * u.AA)
    b_lines.add_line("Hb", 4862.69 * u.AA)
    cont = continuum.ContinuumConfiguration([continuum.ContinuumRegion(6400 * u.AA, 6700 * u.AA)])
    both = Configuration(a_lines, cont) + Configuration(b_lines)
    assert both.lines.names == ["Ha", "Hb"]
    assert both.continuum is cont and both.dispersers is None
    with pytest.raises(ValueError, match="'flux_Ha'"):  # the line merge's own message
        Configuration(a_lines) + Configuration(a_lines)
    other = continuum.ContinuumConfiguration(
        [continuum.ContinuumRegion(4800 * u.AA, 4900 * u.AA)], zorder=1
    )
    with pytest.raises(
        ValueError,
        match=re.escape("Cannot add ContinuumConfigurations with different zorders (0 vs 1)"),
    ):
        Configuration(a_lines, cont) + Configuration(b_lines, other)
