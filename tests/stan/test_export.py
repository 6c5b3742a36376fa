"""Driving Stan by hand: the program, its data and the site map written side by side
(``RenderedProgram.write``), the posterior mode (``ModelBuilder.optimize``) and Pathfinder
(``ModelBuilder.pathfinder``, CmdStan only).

The Stan runs use Fit 1 of the tutorial, whose program the tutorial tests build (cached).
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess

import astropy.units as u
import numpy as np
import pytest
from conftest import tutorial_fit1, tutorial_spectrum, tutorial_truth

from unite_stan import line, prior, spectrum
from unite_stan.model import ModelBuilder
from unite_stan.stan.backends import cmdstan_available, get_backend
from unite_stan.stan.coordinates import value_slope
from unite_stan.stan.export import read_stan_json
from unite_stan.stan.optimize import _Correction, _log_prior
from unite_stan.stan.run import unconstrain

AVAILABLE, REASON = cmdstan_available()
needs_cmdstan = pytest.mark.skipif(not AVAILABLE, reason=f"CmdStan not installed: {REASON}")


def renamed_model():
    """Two lines whose names are no Stan identifiers ('X_6564.61', 'target'), the second's
    flux bounded by twice the first's (a bound that depends on another site)."""
    lines = line.LineConfiguration()
    first = line.Flux(prior=prior.Uniform(0, 3))
    lines.add_line("X_6564.61", 6563.0 * u.AA, flux=first)
    lines.add_line("target", 6585.0 * u.AA, flux=line.Flux(prior=prior.Uniform(0, first * 2)))
    spectra = spectrum.Spectra([tutorial_spectrum()], redshift=0.0)
    flc, fcc = spectra.prepare(lines, None)
    spectra.compute_scales(flc, fcc)
    return ModelBuilder(flc, fcc, spectra)


def assert_same_data(loaded: dict, data: dict) -> None:
    """Every value read back equals the original exactly, integers as JSON integers."""
    assert sorted(loaded) == sorted(data)
    for key, value in data.items():
        original = np.asarray(value)
        back = loaded[key]
        if original.size == 0:
            assert back == [] or np.asarray(back).size == 0, key
            assert np.asarray(back).shape == original.shape or back == [], key
            continue
        flat = np.asarray(back).reshape(-1).tolist()
        if original.dtype.kind in "biu":
            assert all(type(x) is int for x in flat), key
        else:
            assert all(type(x) is float for x in flat), key
        assert np.asarray(back).shape == original.shape, key
        # bit for bit: the shortest repr reads back to the same double
        assert np.array_equal(np.asarray(back, dtype=original.dtype), original, equal_nan=True), key


def test_write_round_trips_program_data_and_names(tmp_path):
    spectra, flc, fcc = tutorial_fit1()
    program, args = ModelBuilder(flc, fcc, spectra).build()
    files = program.write(tmp_path / "out", name="fit1")
    assert [p.name for p in (files.program, files.data, files.sites)] == [
        "fit1.stan",
        "fit1.data.json",
        "fit1.sites.json",
    ]
    assert files.program.read_text() == program.code
    with open(files.data) as handle:
        assert_same_data(json.load(handle), program.data)
    sites = json.loads(files.sites.read_text())
    assert sites["free_sites"][0] == {
        "index": 1,
        "site": "angle_a",
        "stan": "angle_a",
        "coordinate": "slope",
    }
    assert [e["site"] for e in sites["free_sites"]] == args.free_sites
    assert {e["coordinate"] for e in sites["free_sites"][1:]} == {"logit"}
    assert [e["site"] for e in sites["fixed_sites"]] == args.fixed_sites
    assert sites["log_likelihood"] == {"log_lik_spec[1]": "grism"}


def test_write_handles_floats_ints_and_empty_arrays_exactly(tmp_path):
    spectra, flc, fcc = tutorial_fit1()
    program, _ = ModelBuilder(flc, fcc, spectra).build()
    extra = {
        "tiny": np.array([1e-300, 5e-324, 0.1 + 0.2, -0.0, 1.0 / 3.0, np.nextafter(1.0, 2.0)]),
        "empty_vector": np.zeros(0),
        "empty_rows": np.zeros((0, 3)),
        "empty_columns": np.zeros((2, 0), dtype=int),
        "big_int": np.array([2**40, -7]),
    }
    program = dataclasses.replace(program, data={**program.data, **extra})
    files = program.write(tmp_path)
    with open(files.data) as handle:
        loaded = json.load(handle)
    assert_same_data(loaded, program.data)
    assert loaded["empty_rows"] == [] and loaded["empty_columns"] == [[], []]
    back = read_stan_json(files.data, like=program.data)
    assert back["empty_rows"].shape == (0, 3) and back["empty_columns"].dtype.kind == "i"
    assert np.array_equal(back["tiny"], extra["tiny"])
    assert np.signbit(back["tiny"][3])


def test_site_names_never_reach_stan_and_the_map_gives_them_back(tmp_path):
    program, _ = renamed_model().build()
    files = program.write(tmp_path)
    sites = json.loads(files.sites.read_text())
    assert sites["stan_to_site"]["flux_X_6564_61"] == "flux_X_6564.61"
    assert sites["stan_to_site"]["z_X_6564_61"] == "z_X_6564.61"
    for ident, site in sites["stan_to_site"].items():
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", ident)
        assert program.name_map.ident(site) == ident
    assert "6564.61" not in files.program.read_text()


def test_sites_file_names_the_flux_coordinate_and_refuses_non_numbers(tmp_path):
    spectra, flc, fcc = tutorial_fit1()
    program, _ = ModelBuilder(flc, fcc, spectra).build()
    files = program.with_flux_scales({"flux_Ha": 0.05}).write(tmp_path)
    entries = {e["site"]: e for e in json.loads(files.sites.read_text())["free_sites"]}
    assert entries["flux_Ha"] == {
        "index": 2,
        "site": "flux_Ha",
        "stan": "flux_Ha",
        "coordinate": "flux",
        "scale": 0.05,
    }
    assert entries["flux_NII_6549"]["coordinate"] == "logit"
    bad = dataclasses.replace(program, data={**program.data, "label": np.array(["a"])})
    message = "Stan data 'label' has dtype <U1: only numbers can be written to CmdStan JSON"
    with pytest.raises(ValueError, match=re.escape(message)):
        bad.write(tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("name", ["", "a/b", "..", "/tmp/model"])
def test_write_refuses_a_name_with_a_folder(tmp_path, name):
    spectra, flc, fcc = tutorial_fit1()
    program, _ = ModelBuilder(flc, fcc, spectra).build()
    message = f"name={name!r}: give a plain file name without a folder or suffix, e.g. 'model'"
    with pytest.raises(ValueError, match=re.escape(message)):
        program.write(tmp_path, name=name)


def test_written_program_parses_with_stanc(tmp_path):
    """httpstan's stanc (the embedded backend's) accepts the written file as it is."""
    from unite_stan.stan.backends.embedded import _httpstan_dir

    spectra, flc, fcc = tutorial_fit1()
    program, _ = ModelBuilder(flc, fcc, spectra).build()
    files = program.write(tmp_path)
    done = subprocess.run(
        [str(_httpstan_dir() / "stanc"), "--o=model.hpp", files.program.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "class model_model" in (tmp_path / "model.hpp").read_text()


# ---- the posterior mode (embedded backend; the tutorial's program, cached) ----------------


def tutorial_truth_in_sample_units(spectra) -> dict:
    t = tutorial_truth()
    line_scale = spectra.line_scale.to_value(u.erg / u.s / u.cm**2)
    cont_scale = spectra.continuum_scale.to_value(u.erg / u.s / u.cm**2 / u.AA)
    area = t["sigma_aa"] * np.sqrt(2 * np.pi) * 1e-17
    return {
        "z_narrow": 0.0,
        "fwhm_gauss_narrow": 200.0,
        "scale_a": (t["cont_level"] + t["cont_slope"] * (6642.2845 - 6550.0)) * 1e-17 / cont_scale,
        "angle_a": np.arctan(t["cont_slope"] * 1e-17 / cont_scale),
        "flux_Ha": t["amplitudes"]["Ha"] * area / line_scale,
        "flux_NII_6549": t["amplitudes"]["NII_6549"] * area / line_scale,
        "flux_SII_6717": t["amplitudes"]["SII_6717"] * area / line_scale,
    }


@pytest.fixture(scope="module")
def fit1_modes():
    spectra, flc, fcc = tutorial_fit1()
    builder = ModelBuilder(flc, fcc, spectra)
    plain, args = builder.optimize(backend="embedded")
    with_jacobian, args_j = builder.optimize(backend="embedded", jacobian=True)
    return spectra, builder, plain, args, with_jacobian, args_j


@pytest.mark.stan
def test_map_recovers_the_truth_within_a_few_posterior_sigma(fit1_modes):
    from unite_stan.stan.pilot import laplace_pilot

    spectra, _, plain, args, *_ = fit1_modes
    program = args.program
    engine = get_backend("embedded")
    density = engine.log_density(engine.compile(program.code, progress=False), program.data)
    mode = args.run_info["optimize"]["unconstrained"]
    # posterior sd of each site from the Laplace approximation at the mode
    laplace = laplace_pilot(density, [mode])
    sd_u = np.sqrt(np.diag(laplace.chol @ laplace.chol.T))
    truth = tutorial_truth_in_sample_units(spectra)
    graph = args.prior_graph
    bounds = graph.bounds(plain)
    for k, site in enumerate(args.free_sites):
        low, high = bounds[site]
        kind = program.site_coordinates[site]
        sd = abs(float(value_slope(kind, laplace.loc[k], low, high))) * sd_u[k]
        assert abs(plain[site] - truth[site]) < 3 * sd, (site, plain[site], truth[site], sd)
    assert args.run_info["optimize"]["converged"] == 4
    assert sorted(plain) == sorted(args.dependency_order + ["log_prob", "log_likelihood"])
    assert plain["norm_wav_a"] == args.all_priors["norm_wav_a"].resolved_value({})


@pytest.mark.stan
def test_each_mode_maximises_its_own_density(fit1_modes):
    """Without the Jacobian: log likelihood + log prior is largest at its mode; with it,
    unite's log_prob is largest at its own. The two modes differ (the flux posteriors are not
    symmetric on the logistic scale)."""
    _, _, plain, args, with_jacobian, _ = fit1_modes

    def posterior(values):
        return values["log_likelihood"] + _log_prior(args, values)

    assert posterior(plain) > posterior(with_jacobian)
    assert with_jacobian["log_prob"] > plain["log_prob"]
    assert plain["flux_Ha"] != pytest.approx(with_jacobian["flux_Ha"], rel=1e-4)
    # the mode is a maximum of what was maximised: every small step lowers it
    objective = args.run_info["optimize"]["objective"]
    assert objective == pytest.approx(posterior(plain), rel=1e-12, abs=1e-9)


@pytest.mark.stan
def test_log_likelihood_without_write_array_equals_the_programs(fit1_modes):
    """The fallback (CmdStan: target less log prior and log Jacobian) gives log_lik_spec."""
    spectra, builder, plain, args, *_ = fit1_modes
    program = args.program
    engine = get_backend("embedded")
    density = engine.log_density(engine.compile(program.code, progress=False), program.data)
    x = unconstrain(args, plain)
    lp, _ = density(x)
    without_jacobian, _ = _Correction(args, program, False)(x)
    fallback = lp + without_jacobian - _log_prior(args, plain)
    assert fallback == pytest.approx(plain["log_likelihood"], rel=1e-12, abs=1e-9)


@pytest.mark.stan
def test_data_read_back_from_json_gives_the_same_log_density(tmp_path, fit1_modes):
    _, _, plain, args, *_ = fit1_modes
    program = args.program
    files = program.write(tmp_path)
    engine = get_backend("embedded")
    compiled = engine.compile(files.program.read_text(), progress=False)
    x = unconstrain(args, plain)
    original = engine.log_density(compiled, program.data)(x)
    back = engine.log_density(compiled, read_stan_json(files.data, like=program.data))(x)
    assert back[0] == original[0]
    assert np.array_equal(back[1], original[1])


def test_jacobian_terms_have_the_right_gradient():
    """The closed-form gradients of the Jacobian terms (and the central differences of a bound
    that depends on another site) against finite differences of their values."""
    program, args = renamed_model().build()
    spectra, flc, fcc = tutorial_fit1()
    program1, args1 = ModelBuilder(flc, fcc, spectra).build()  # holds a slope coordinate
    rng = np.random.default_rng(3)
    for prog, arg in ((program, args), (program1, args1)):
        for jacobian in (False, True):
            correction = _Correction(arg, prog, jacobian)
            x = rng.normal(size=len(prog.free_sites))
            _, gradient = correction(x)
            step = 1e-6
            numeric = [
                (correction(x + step * e)[0] - correction(x - step * e)[0]) / (2 * step)
                for e in np.eye(x.size)
            ]
            assert np.allclose(gradient, numeric, rtol=1e-6, atol=1e-7), (jacobian, prog.free_sites)
    assert _Correction(args, program, False).dependent == [1]  # flux_target's upper bound


def test_optimize_and_pathfinder_refuse_bad_input():
    spectra, flc, fcc = tutorial_fit1()
    builder = ModelBuilder(flc, fcc, spectra)
    with pytest.raises(ValueError, match=re.escape("num_starts=0: must be a positive integer")):
        builder.optimize(num_starts=0)
    with pytest.raises(TypeError, match=re.escape("jacobian='yes': must be True or False")):
        builder.optimize(jacobian="yes")
    with pytest.raises(ValueError, match=re.escape("init values given for ['flux_Hb']")):
        builder.optimize(init_strategy={"flux_Hb": 0.1})
    with pytest.raises(TypeError, match=re.escape("init_strategy=0.5: give a dict")):
        builder.pathfinder(init_strategy=0.5)
    with pytest.raises(ValueError, match=re.escape("num_paths=0: must be a positive integer")):
        builder.pathfinder(num_paths=0, backend="embedded")


def test_pathfinder_on_the_embedded_backend_names_cmdstan():
    spectra, flc, fcc = tutorial_fit1()
    message = (
        "Pathfinder is not available on the 'embedded' backend (its Stan services offer NUTS "
        "only); use backend='cmdstan'"
    )
    with pytest.raises(NotImplementedError, match=re.escape(message)):
        ModelBuilder(flc, fcc, spectra).pathfinder(backend="embedded")


# ---- CmdStan (skipped where none is installed) ---------------------------------------------


@pytest.mark.cmdstan
@needs_cmdstan
def test_written_files_run_with_cmdstanpy_by_hand(tmp_path, fit1_modes):
    import cmdstanpy

    _, _, plain, args, *_ = fit1_modes
    files = args.program.write(tmp_path)
    # the written text built by the CmdStan backend: its cache already holds the tutorial's
    # program (the same text), so nothing compiles; the data come from the written file
    compiled = get_backend("cmdstan").compile(files.program.read_text(), progress=False)
    model = cmdstanpy.CmdStanModel(exe_file=compiled.record.artifact)
    x = unconstrain(args, plain)
    table = model.log_prob(
        params={"xi": x.tolist()}, data=str(files.data), jacobian=True, sig_figs=18
    )
    engine = get_backend("embedded")
    density = engine.log_density(
        engine.compile(args.program.code, progress=False), args.program.data
    )
    assert float(table["lp__"].iloc[0]) == pytest.approx(density(x)[0], rel=1e-10)


@pytest.mark.cmdstan
@needs_cmdstan
def test_map_agrees_on_both_backends(fit1_modes):
    _, builder, plain, args, *_ = fit1_modes
    cmdstan, args_c = builder.optimize(backend="cmdstan")
    assert args_c.run_info["optimize"]["backend"] == "cmdstan"
    for site in args.free_sites:
        assert cmdstan[site] == pytest.approx(plain[site], rel=1e-5, abs=1e-8), site
    assert cmdstan["log_likelihood"] == pytest.approx(plain["log_likelihood"], abs=1e-6)


@pytest.mark.cmdstan
@needs_cmdstan
def test_pathfinder_draws_surround_the_mode(fit1_modes):
    spectra, builder, plain, args, *_ = fit1_modes
    samples, args_p = builder.pathfinder(num_samples=1000, backend="cmdstan")
    assert args_p.dataset.attrs["method"] == "pathfinder"
    assert sorted(samples) == sorted(args.free_sites + ["log_prob", "log_likelihood"])
    truth = tutorial_truth_in_sample_units(spectra)
    for site in args.free_sites:
        draws = samples[site]
        assert draws.shape == (1000,)
        assert abs(np.mean(draws) - truth[site]) < 4 * np.std(draws), site
