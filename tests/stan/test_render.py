"""Rendering: golden programs, stanc on every golden file, numbers only in data, name map."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from importlib.resources import files
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from conftest import (
    absorption_configuration,
    grating_spectra,
    truth_frozen,
    tutorial_fit1,
    tutorial_fit2,
)

from unite_stan import continuum, line, model, prior, spectrum
from unite_stan.instrument.generic import SimpleDisperser
from unite_stan.stan.naming import NameMap

GOLDEN = Path(__file__).resolve().parents[2] / "stan_models"
UPDATE = os.environ.get("UNITE_STAN_UPDATE_GOLDEN") == "1"


def data_keys(data: dict) -> dict:
    out = {}
    for k, v in data.items():
        a = np.asarray(v)
        kind = "int" if np.issubdtype(a.dtype, np.integer) else "real"
        out[k] = f"{kind}[{','.join(str(n) for n in a.shape)}]" if a.ndim else kind
    return out


def fit1_program():
    spectra, flc, fcc = tutorial_fit1()
    return model.ModelBuilder(flc, fcc, spectra).build()


def fit2_program():
    spectra, flc, fcc = tutorial_fit1()
    flc2, fcc2 = tutorial_fit2(spectra, truth_frozen())
    return model.ModelBuilder(flc2, fcc2, spectra).build()


def _absorption_spectra(pix_offset, r_scale=None):
    unit = u.erg / u.s / u.cm**2 / u.AA
    return grating_spectra(
        np.linspace(6500.0, 6760.0, 521), np.ones(520), 0.02, 4000.0,
        1e-16 * u.erg / u.s / u.cm**2, 1 * unit, pix_offset=pix_offset, r_scale=r_scale,
    )  # fmt: skip


def absorption_program():
    """tests/stan/test_absorption.py's configuration: absorbers in every part of the program
    with fixed edges (a fixed-shape line, a covering fraction, two zorder groups)."""
    lines, cont = absorption_configuration()
    spectra = _absorption_spectra(None)
    spectra.prepare(lines, cont)
    return model.ModelBuilder(lines, cont, spectra).build()


def absorption_moving_edges_program():
    """The same with a sampled pixel offset (edges that move), as the threaded program (the
    text reduce_sum_static runs), so that stanc checks both branches with absorbers."""
    from unite_stan.instrument import PixOffset

    lines, cont = absorption_configuration()
    spectra = _absorption_spectra(PixOffset(prior=prior.Uniform(-0.5, 0.5)))
    spectra.prepare(lines, cont)
    program, args = model.ModelBuilder(lines, cont, spectra).build()
    return dataclasses.replace(program, code=program.threaded_code), args


def convolution_program():
    """The absorption configuration in convolution mode, the kernel as data."""
    lines, cont = absorption_configuration()
    spectra = _absorption_spectra(None)
    spectra.prepare(lines, cont)
    return model.ModelBuilder(lines, cont, spectra).build(integration_mode="convolution")


def convolution_moving_edges_program():
    """Convolution mode with a sampled pixel offset and r_scale (the kernel's weights and the
    fine edges computed per draw)."""
    from unite_stan.instrument import PixOffset, RScale

    lines, cont = absorption_configuration()
    spectra = _absorption_spectra(
        PixOffset(prior=prior.Uniform(-0.5, 0.5)), RScale(prior=prior.Uniform(0.9, 1.1))
    )
    spectra.prepare(lines, cont)
    return model.ModelBuilder(lines, cont, spectra).build(integration_mode="convolution")


#: continuum forms of the every-profile golden program, beside every registered profile
EVERY_PROFILE_FORMS = ("Linear", "Chebyshev", "PowerLaw", "Blackbody")


def every_profile_program():
    """One line of each registered profile, each with its own redshift, on one continuum
    region of each form in :data:`EVERY_PROFILE_FORMS`, in one R = 3000 spectrum."""
    from unite_stan.continuum.library import FORMS
    from unite_stan.line.library import PROFILES

    lc = line.LineConfiguration()
    for k, cls in enumerate(PROFILES):
        name = cls.__name__
        lc.add_line(
            name,
            (5000.0 + 100.0 * k) * u.AA,
            profile=name,
            redshift=line.Redshift(name, prior=prior.Uniform(-0.001, 0.001)),
            flux=line.Flux(prior=prior.Uniform(0, 3)),
        )
    span = 100.0 * len(PROFILES) / len(EVERY_PROFILE_FORMS)
    regions = [
        continuum.ContinuumRegion(
            (4950.0 + span * k) * u.AA,
            (4950.0 + span * (k + 1)) * u.AA,
            form=FORMS[form].contract_examples()[0],
        )
        for k, form in enumerate(EVERY_PROFILE_FORMS)
    ]
    cc = continuum.ContinuumConfiguration(regions)
    wl = np.linspace(4900.0, 5100.0 + 100.0 * len(PROFILES), 4000)
    flux = np.ones(wl.size) * 1e-17 * u.erg / u.s / u.cm**2 / u.AA
    disp = SimpleDisperser(wavelength=wl * u.AA, R=3000.0, name="g")
    spectra = spectrum.Spectra([spectrum.from_centers(wl * u.AA, flux, 0.1 * flux, disp)], 0.0)
    flc, fcc = spectra.prepare(lc, cc)
    spectra.line_scale = 1e-16 * u.erg / u.s / u.cm**2
    spectra.continuum_scale = 1e-17 * u.erg / u.s / u.cm**2 / u.AA
    return model.ModelBuilder(flc, fcc, spectra).build()


@pytest.mark.parametrize(
    "name, make",
    [
        ("convolution", convolution_program),
        ("convolution_moving_edges", convolution_moving_edges_program),
        ("freeze_tutorial_fit1", fit1_program),
        ("freeze_tutorial_fit2", fit2_program),
        ("absorption", absorption_program),
        ("absorption_moving_edges_threaded", absorption_moving_edges_program),
        ("every_profile_four_forms", every_profile_program),
    ],
)
def test_golden_program_byte_for_byte(name, make):
    program, _ = make()
    stan_file = GOLDEN / f"{name}.stan"
    keys_file = GOLDEN / f"{name}.data_keys.json"
    keys = data_keys(program.data)
    if UPDATE:
        stan_file.write_text(program.code)
        keys_file.write_text(json.dumps(keys, indent=1) + "\n")
    assert program.code == stan_file.read_text()
    assert keys == json.loads(keys_file.read_text())


def test_every_profile_golden_holds_the_whole_registry():
    """The every-profile golden has a line of each registered profile: a new profile
    changes it (rewrite it with UNITE_STAN_UPDATE_GOLDEN=1)."""
    from unite_stan.line.library import PROFILES

    code = (GOLDEN / "every_profile_four_forms.stan").read_text()
    missing = [cls.__name__ for cls in PROFILES if f"{cls.stan_name}_cumulative(" not in code]
    assert not missing, (
        f"stan_models/every_profile_four_forms.stan lacks the profiles {missing}: rewrite the "
        "golden files with UNITE_STAN_UPDATE_GOLDEN=1 and review the difference"
    )


def test_rendering_is_deterministic():
    a, _ = fit1_program()
    b, _ = fit1_program()
    assert a.code == b.code
    assert a.data.keys() == b.data.keys()


def stanc_path() -> Path:
    return Path(str(files("httpstan") / "stanc"))


@pytest.mark.parametrize("stan_file", sorted(GOLDEN.glob("*.stan")), ids=lambda p: p.name)
def test_stanc_accepts_every_golden_file(stan_file, tmp_path):
    out = tmp_path / "model.hpp"
    proc = subprocess.run(
        [str(stanc_path()), str(stan_file), "--o", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 10_000


def test_golden_fit2_has_only_the_two_fluxes_free():
    program, args = fit2_program()
    assert program.free_sites == ["flux_Ha", "flux_NII_6549"]
    assert args.spectra[0].npix == 363


def test_numbers_change_data_not_code():
    """Different priors, frozen values and spectra give the same program text."""
    a, _ = fit1_program()
    spectra, flc, fcc = tutorial_fit1()
    for entry in flc:
        entry.flux.prior = prior.Uniform(-1.0, 5.0)
    flc["Ha"].redshift.prior = prior.Uniform(-0.002, 0.003)
    spectra.line_scale = spectra.line_scale * 2
    b, _ = model.ModelBuilder(flc, fcc, spectra).build()
    assert a.code == b.code
    assert not np.array_equal(a.data["lit"], b.data["lit"])
    c, _ = fit2_program()
    frozen2 = dict(truth_frozen(), scale_a=prior.Fixed(0.9), angle_a=prior.Fixed(-0.01))
    spectra2, _, _ = tutorial_fit1()
    flc2, fcc2 = tutorial_fit2(spectra2, frozen2)
    d, _ = model.ModelBuilder(flc2, fcc2, spectra2).build()
    assert c.code == d.code
    assert not np.array_equal(c.data["lit"], d.data["lit"])


def odd_line_config(names):
    lc = line.LineConfiguration()
    z = line.Redshift("z")
    for k, n in enumerate(names):
        lc.add_line(
            n, (6400.0 + 60 * k) * u.AA, redshift=z, flux=line.Flux(prior=prior.Uniform(0, 3))
        )
    return lc


def test_name_map_makes_safe_unique_identifiers():
    sites = [
        "flux_X_6564.61",
        "flux_target",
        "target",
        "flux_a b",
        'flux_"; } model { target += 1e9; //',
        "z_sys",
        "for",
        "xi",
        "a__b",
        "flux_X_6564_61",
    ]
    nm = NameMap(sites)
    idents = [nm.ident(s) for s in sites]
    assert len(set(idents)) == len(idents)
    for s, i in zip(sites, idents, strict=True):
        assert i.replace("_", "a").isalnum() and i[0].isalpha(), i
        assert "__" not in i
        assert nm.site(i) == s
    assert nm.ident("flux_target") == "flux_target"
    assert nm.ident("flux_X_6564.61") == "flux_X_6564_61"
    assert nm.ident("flux_X_6564_61") != "flux_X_6564_61"
    assert nm.ident("target") != "target"
    assert nm.ident("z_sys") != "z_sys"


def test_hostile_line_names_never_reach_the_program():
    names = ["X_6564.61", "target", "a b", '"; } model { target += 1e9; //', "over_error"]
    lc = odd_line_config(names)
    wl = np.linspace(6300, 6700, 200)
    disp = SimpleDisperser(wavelength=wl * u.AA, R=1000.0, name='g"; }')
    flux = np.ones(200) * 1e-17 * u.erg / u.s / u.cm**2 / u.AA
    spec = spectrum.from_centers(wl * u.AA, flux, flux * 0.1, disp)
    spectra = spectrum.Spectra([spec])
    cc = continuum.ContinuumConfiguration.from_lines(lc.centers)
    spectra.prepare(lc, cc)
    spectra.line_scale = 1e-16 * u.erg / u.s / u.cm**2
    spectra.continuum_scale = 1e-17 * u.erg / u.s / u.cm**2 / u.AA
    program, args = model.ModelBuilder(None, None, spectra).build()
    assert "target += 1e9" not in program.code
    assert program.code.count("target +=") == fit1_program()[0].code.count("target +=")
    header, rest = program.code.split("\nfunctions {", 1)
    assert '"' not in header and '"' not in rest.split("\ndata {", 1)[1]
    assert "model {" in program.code and program.code.count("model {") == 1
    assert set(program.free_sites) >= {f"flux_{n}" for n in names}
    # flux_over_error is a variable of the program's transformed data
    assert program.name_map.ident("flux_over_error") != "flux_over_error"


def every_form_program(tmp_path, *, fixed=False, pix_offset=None):
    """One region per continuum form (five of them with every slot fixed when ``fixed``), at
    z = 0.5, in a spectrum in µm; the forms' constants reach the data."""
    from unite_stan.continuum.library import FORMS
    from unite_stan.instrument.tokens import PixOffset

    z = 0.5
    examples = [cls.contract_examples()[0] for cls in FORMS]
    width = 150.0
    regions = []
    for k, form in enumerate(examples):
        low = 4000.0 + (width + 10.0) * k
        if isinstance(form, continuum.BSpline):
            form = continuum.BSpline([low + 50.0, low + 100.0] * u.AA)
        if isinstance(form, continuum.Template):
            wave = np.linspace(low - 5.0, low + width + 5.0, 9)
            path = tmp_path / f"template{k}.ecsv"
            rows = "\n".join(f"{w:.6f} {1.0 + 1e-3 * (w - low):.6f}" for w in wave)
            path.write_text(
                "# %ECSV 1.0\n# ---\n# datatype:\n"
                "# - {name: wave, unit: Angstrom, datatype: float64}\n"
                "# - {name: f, unit: erg / (Angstrom s cm2), datatype: float64}\n"
                f"wave f\n{rows}\n"
            )
            form = continuum.Template(path)
        params = {}
        if fixed and k % 2:
            slot_class = {"norm_wav": continuum.NormWavelength}
            for slot in form.param_names():
                value = form.default_prior(slot, low + 0.5 * width)
                value = (
                    value
                    if isinstance(value, prior.Fixed)
                    else prior.Fixed(0.5 * (value.low.value + value.high.value) or 0.5)
                )
                cls = slot_class.get(slot, continuum.Scale if slot.endswith("scale") else None)
                params[slot] = (cls or continuum.ContShape)(prior=value)
        regions.append(
            continuum.ContinuumRegion(low * u.AA, (low + width) * u.AA, form=form, params=params)
        )
    cc = continuum.ContinuumConfiguration(regions)
    lc = line.LineConfiguration()
    lc.add_line("X", 4100.0 * u.AA, flux=line.Flux(prior=prior.Uniform(0, 3)))
    wl = np.linspace(0.39 * (1 + z), 0.62 * (1 + z), 3000)
    disp = SimpleDisperser(
        wavelength=wl * u.um,
        R=1500.0,
        name="g",
        pix_offset=None if pix_offset is None else PixOffset(prior=pix_offset),
    )
    flux = np.ones(wl.size) * 1e-17 * u.erg / u.s / u.cm**2 / u.um
    spectra = spectrum.Spectra([spectrum.from_centers(wl * u.um, flux, 0.1 * flux, disp)], z)
    flc, fcc = spectra.prepare(lc, cc, drop_empty_regions=False)
    spectra.line_scale = 1e-16 * u.erg / u.s / u.cm**2
    spectra.continuum_scale = 1e-17 * u.erg / u.s / u.cm**2 / u.um
    return model.ModelBuilder(flc, fcc, spectra).build()


@pytest.mark.parametrize(
    "fixed, pix_offset",
    [(False, None), (True, None), (False, prior.Uniform(-0.5, 0.5))],
    ids=["sampled", "fixed-regions", "pix-offset"],
)
def test_every_form_renders_and_passes_stanc(tmp_path, fixed, pix_offset):
    program, args = every_form_program(tmp_path, fixed=fixed, pix_offset=pix_offset)
    from unite_stan.continuum.library import FORMS

    assert set(program.structure.forms) == {cls.stan_name for cls in FORMS}
    assert program.structure.fixed_regions is fixed
    data = program.data
    z = args.redshift
    for r, form in enumerate(args.cont_forms):
        start, n = data["region_const_start"][r], data["region_nconst"][r]
        expected = form.stan_constants(
            obs_low=args.cont_low[r] * (1 + z),
            obs_high=args.cont_high[r] * (1 + z),
            wl_unit=args.canonical_unit,
            z_sys=z,
        )
        np.testing.assert_array_equal(data["region_const"][start - 1 : start - 1 + n], expected)
    assert data["N_region_const"] == data["region_nconst"].sum() + 1
    for code in (program.serial_code, program.threaded_code):
        (tmp_path / "m.stan").write_text(code)
        proc = subprocess.run(
            [str(stanc_path()), str(tmp_path / "m.stan"), "--o", str(tmp_path / "m.hpp")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
