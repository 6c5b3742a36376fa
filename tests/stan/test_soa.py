"""The threaded program's functions keep struct-of-arrays vectors (unite_stan.stan.soa)."""

from __future__ import annotations

import subprocess
import warnings

import astropy.units as u
import numpy as np
import pytest
from conftest import tutorial_fit1
from test_fit_joint import configuration, spectra_with

from unite_stan import continuum, model
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
def test_rewritten_forms_give_the_serial_log_density_and_gradient():
    """Polynomial and PowerLaw continua through reduce_sum (the Linear one, and sampled pixel
    offsets, are in test_threads)."""
    lc, _ = configuration()
    cc = continuum.ContinuumConfiguration(
        [
            continuum.ContinuumRegion(4800 * u.AA, 4910 * u.AA, form=continuum.Polynomial(2)),
            continuum.ContinuumRegion(4910 * u.AA, 5060 * u.AA, form=continuum.PowerLaw()),
        ]
    )
    spectra = spectra_with(np.ones(400), np.ones(900))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        program, _ = model.ModelBuilder(lc, cc, spectra).build()
    backend = get_backend("embedded")
    blocked = program.laid_out(Layout(blocks=(3, 3)))
    serial = backend.log_density(backend.compile(program.code, progress=False), blocked.data)
    threaded = backend.log_density(backend.compile(blocked.code, progress=False), blocked.data)
    rng = np.random.default_rng(5)
    for x in (rng.uniform(-1.5, 1.5, len(program.free_sites)) for _ in range(3)):
        lp_ref, grad_ref = serial(x)
        for threads in (1, 2):
            lp, grad = threaded.run_threaded(threads, lambda x=x: threaded(x))
            assert lp == pytest.approx(lp_ref, rel=1e-12)
            np.testing.assert_allclose(grad, grad_ref, rtol=1e-9, atol=1e-9)
