"""The threaded program's functions keep struct-of-arrays vectors (unite_stan.stan.soa)."""

from __future__ import annotations

import subprocess
import warnings

import astropy.units as u
import numpy as np
import pytest
from conftest import tutorial_fit1
from test_fit_joint import configuration, spectra_with

from unite_stan import continuum, instrument, line, model, prior, spectrum
from unite_stan._resources import template_dir
from unite_stan.instrument.generic import SimpleDisperser
from unite_stan.stan import soa
from unite_stan.stan.backends import get_backend
from unite_stan.stan.backends.embedded import _httpstan_dir
from unite_stan.stan.render import Layout

AOS = "Eigen::Matrix<local_scalar_t__,-1,1>"
SOA = "stan::conditional_var_value_t<local_scalar_t__, Eigen::Matrix<double,-1,1>>"


def stanc(code: str, tmp_path) -> str:
    (tmp_path / "model.stan").write_text(code)
    command = [str(_httpstan_dir() / "stanc"), "--O1", "--o=model.hpp", "model.stan"]
    subprocess.run(command, cwd=tmp_path, check=True, capture_output=True)
    return (tmp_path / "model.hpp").read_text()


def test_only_programs_with_reduce_sum_are_rewritten():
    spectra, flc, fcc = tutorial_fit1()
    program, _ = model.ModelBuilder(flc, fcc, spectra).build()
    assert soa.options(program.serial_code) == {}
    assert soa.options(program.threaded_code) == {"rewrite": soa.REWRITE}


def test_functions_vectors_become_struct_of_arrays_and_the_model_is_untouched(tmp_path):
    spectra, flc, fcc = tutorial_fit1()
    program, _ = model.ModelBuilder(flc, fcc, spectra).build()
    cpp = stanc(program.threaded_code, tmp_path)
    cut = cpp.index("class model_model final")
    rewritten = soa.struct_of_arrays(cpp)
    functions, rest = rewritten.split("class model_model final", 1)
    assert AOS in cpp[:cut] and AOS not in functions
    # blocks_loglik's model_sum, z, ...; the Linear continuum's antiderivative returns one
    assert functions.count(f"{SOA} model_sum;") == 1
    assert functions.count(f"{SOA} z;") == 1
    assert "stan::base_type_t<" not in functions
    # Eigen is configured before anything includes it (reproducible sums)
    assert functions.index("#define EIGEN_DONT_VECTORIZE") < functions.index("#include")
    assert rest == cpp[cut + len("class model_model final") :]
    assert soa.struct_of_arrays(cpp[:cut]) == cpp[:cut]  # no model class: left alone


@pytest.mark.stan
def test_rewritten_forms_give_the_serial_log_density_and_gradient(tmp_path):
    """Every continuum form but Linear (in test_threads) through reduce_sum, their chunks'
    local vectors rewritten, with one spectrum's pixel offset sampled (its edges move)."""
    lc, _ = configuration()
    wave = np.linspace(4900.0, 5100.0, 21)
    template = tmp_path / "template.ecsv"
    rows = "\n".join(f"{w:.3f} {1.0 + 1e-3 * (w - 5000.0) ** 2 / 50.0:.9f}" for w in wave)
    template.write_text(
        "# %ECSV 1.0\n# ---\n# datatype:\n"
        "# - {name: wave, unit: Angstrom, datatype: float64}\n"
        "# - {name: f, unit: erg / (Angstrom s cm2), datatype: float64}\n"
        f"wave f\n{rows}\n"
    )
    forms = [
        (4740, 4790, continuum.Polynomial(2)),
        (4790, 4830, continuum.PowerLaw()),
        (4830, 4880, continuum.Chebyshev(3, stretch=0.8)),
        (4880, 4930, continuum.BSpline([4900.0] * u.AA, degree=2)),
        (4930, 4980, continuum.ModifiedBlackbody()),
        (4980, 5030, continuum.Template(template)),
        (5030, 5060, continuum.DLAPowerLaw()),
        (5060, 5090, continuum.Legendre(2)),
        (5090, 5110, continuum.Bernstein(3)),
        (5110, 5130, continuum.AttenuatedBlackbody()),
    ]
    cc = continuum.ContinuumConfiguration(
        [continuum.ContinuumRegion(lo * u.AA, hi * u.AA, form=f) for lo, hi, f in forms]
    )
    spectra = spectra_with(np.ones(400), np.ones(900))
    lc, cc = spectra.prepare(lc, cc, drop_empty_regions=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        program, _ = model.ModelBuilder(lc, cc, spectra).build()
    assert len(program.structure.forms) == len(forms) and program.structure.pix_offset_free
    backend = get_backend("embedded")
    blocked = program.laid_out(Layout(blocks=(3, 3)))
    serial = backend.log_density(backend.compile(program.serial_code, progress=False), blocked.data)
    threaded = backend.log_density(backend.compile(blocked.code, progress=False), blocked.data)
    rng = np.random.default_rng(5)
    for x in (rng.uniform(-1.5, 1.5, len(program.free_sites)) for _ in range(3)):
        lp_ref, grad_ref = serial(x)
        for threads in (1, 2):
            lp, grad = threaded.run_threaded(threads, lambda x=x: threaded(x))
            assert lp == pytest.approx(lp_ref, rel=1e-12)
            np.testing.assert_allclose(grad, grad_ref, rtol=1e-9, atol=1e-9)


def test_native_kernels_replace_the_functions_named_in_native_only(tmp_path):
    """soa.native_kernels routes each function of soa.NATIVE (and nothing else) to its kernel
    when any argument is an autodiff type, and adds the kernels' C++ once."""
    code = "\n".join(
        [
            "functions {",
            *(
                (template_dir() / chunk).read_text()
                for chunk in (
                    "special/pseudovoigt.stan",
                    "special/exp_erfc.stan",
                    "special/interp.stan",
                    "profiles/gaussian.stan",
                    "profiles/skewnormal.stan",
                    "profiles/skewvoigt.stan",
                )
            ),
            "}",
            "parameters { real x; }",
            "model { x ~ std_normal(); }",
        ]
    )
    cpp = stanc(code, tmp_path)
    functions = soa.struct_of_arrays(cpp).split("class model_model final", 1)[0]
    for name in soa.NATIVE:
        assert functions.count(f"return unite_native::{name}(") == 1
    assert (
        "  if constexpr (unite_native::any_autodiff<T0__, T1__, T2__>::value) {\n"
        "    return unite_native::unite_pseudovoigt_cumulative(x_arg__, g_arg__, l);\n  }"
    ) in functions
    assert functions.count("namespace unite_native {") == 1
    assert "unite_native::gaussian_cumulative" not in functions
    # a program without any of them gets no kernels
    cpp = stanc("parameters { real x; }\nmodel { x ~ std_normal(); }", tmp_path)
    assert "unite_native" not in soa.struct_of_arrays(cpp)


@pytest.mark.stan
def test_native_kernels_give_the_serial_log_density_and_gradient():
    """Every profile whose cumulative runs through a native kernel (soa.NATIVE), in one program
    whose edges move with a sampled pixel offset and whose LSF scales with a sampled r_scale:
    the threaded program (kernels) against the serial text, at points across the priors."""
    profiles = (
        "PseudoVoigt",
        "Cauchy",
        "SkewVoigt",
        "SkewNormal",
        "SEMG",
        "Laplace",
        "GaussianSplitLaplace",
    )
    wave = np.linspace(6400.0, 7000.0, 1200)
    disperser = SimpleDisperser(
        wavelength=wave * u.AA,
        R=3000.0,
        name="g",
        r_scale=instrument.RScale(prior=prior.Uniform(0.8, 1.2)),
        pix_offset=instrument.PixOffset(prior=prior.Uniform(-1.0, 1.0)),
    )
    flam = u.erg / u.s / u.cm**2 / u.AA
    spec = spectrum.from_centers(
        wave * u.AA, np.ones(wave.size) * flam, 0.1 * np.ones(wave.size) * flam, disperser
    )
    lc = line.LineConfiguration()
    for k, name in enumerate(profiles):
        lc.add_line(name, (6450.0 + 75.0 * k) * u.AA, profile=name, redshift=line.Redshift(name))
    cc = continuum.ContinuumConfiguration(
        [continuum.ContinuumRegion(6410.0 * u.AA, 6990.0 * u.AA, continuum.Linear())]
    )
    spectra = spectrum.Spectra([spec], redshift=0.0)
    spectra.line_scale = 1e-16 * u.erg / u.s / u.cm**2
    spectra.continuum_scale = 1e-17 * flam
    program, _ = model.ModelBuilder(lc, cc, spectra).build()
    assert {"pix_offset_g", "r_scale_g"} <= set(program.free_sites)
    backend = get_backend("embedded")
    blocked = program.laid_out(Layout(blocks=(2,)))
    serial = backend.log_density(backend.compile(program.serial_code, progress=False), blocked.data)
    threaded = backend.log_density(backend.compile(blocked.code, progress=False), blocked.data)
    rng = np.random.default_rng(11)
    for x in (rng.uniform(-2.0, 2.0, len(program.free_sites)) for _ in range(4)):
        lp_ref, grad_ref = serial(x)
        lp, grad = threaded.run_threaded(2, lambda x=x: threaded(x))
        assert lp == pytest.approx(lp_ref, rel=1e-12)
        np.testing.assert_allclose(grad, grad_ref, rtol=1e-9, atol=1e-9 * np.abs(grad_ref).max())
