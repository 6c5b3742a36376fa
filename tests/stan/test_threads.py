"""Within-chain threads: pixel blocks and reduce_sum leave the model unchanged.

The tutorial's program is shared with test_fit_tutorial (the compile cache builds it once);
the joint program (two spectra, sampled pixel offsets) with test_fit_joint.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import tutorial_fit1, tutorial_truth
from test_fit_joint import configuration, spectra_with

from unite_stan import model
from unite_stan.stan.backends import get_backend
from unite_stan.stan.backends.base import available_cores
from unite_stan.stan.render import Layout

pytestmark = pytest.mark.stan


@pytest.mark.parametrize("which", ["tutorial", "joint"])
def test_blocks_and_threads_leave_log_density_and_gradient_unchanged(which):
    if which == "tutorial":
        spectra, flc, fcc = tutorial_fit1()
    else:
        lc, cc = configuration()
        spectra = spectra_with(np.ones(400), np.ones(900))
        flc, fcc = lc, cc
    program, _ = model.ModelBuilder(flc, fcc, spectra).build()
    backend = get_backend("embedded")
    compiled = backend.compile(program.serial_code, progress=False)
    rng = np.random.default_rng(3)
    points = [rng.uniform(-1.5, 1.5, len(program.free_sites)) for _ in range(3)]
    serial = [backend.log_density(compiled, program.data)(x) for x in points]
    n_pix = program.data["spec_n_pix"]
    threaded = backend.compile(
        program.laid_out(Layout(blocks=(2,) * len(n_pix))).code, progress=False
    )
    for n_blocks in ([3] * len(n_pix), [7] * len(n_pix)):
        blocked = program.laid_out(Layout(blocks=tuple(n_blocks)))
        assert blocked.data["N_block"] == sum(n_blocks)
        assert blocked.code == program.threaded_code
        # the serial program sums the same blocks in turn; the threaded one by reduce_sum
        for build, thread_counts in ((compiled, (1,)), (threaded, (1, 2))):
            density = backend.log_density(build, blocked.data)
            for threads in thread_counts:
                got = density.run_threaded(threads, lambda d=density: [d(x) for x in points])
                for (lp, grad), (lp_ref, grad_ref) in zip(got, serial, strict=True):
                    assert lp == pytest.approx(lp_ref, rel=1e-12)
                    np.testing.assert_allclose(grad, grad_ref, rtol=1e-9, atol=1e-9)
    # one block per spectrum: the same text, reduce_sum_static over the single block (the
    # likelihood stays a struct-of-arrays function call); the serial text is the reference
    assert program.laid_out(Layout()).code == program.code == program.threaded_code
    assert "reduce_sum_static(" not in program.serial_code
    assert "reduce_sum_static(" in program.code


@pytest.mark.skipif(available_cores() < 2, reason="needs 2 cores for 2 threads in one chain")
def test_one_chain_on_two_threads_recovers_truth_and_is_reproducible():
    spectra, flc, fcc = tutorial_fit1()
    with warnings.catch_warnings():
        # one short chain: its split R-hat is noisy, and convergence is not the point here
        warnings.simplefilter("ignore", UserWarning)
        fits = [
            model.ModelBuilder(flc, fcc, spectra).fit(
                num_warmup=300,
                num_samples=600,
                num_chains=1,
                seed=4,
                progress_bar=False,
                threads_per_chain=2,
            )
            for _ in range(2)
        ]
    (samples, args), (samples_again, _) = fits
    ds = args.dataset
    assert ds.attrs["threads_per_chain"] == 2
    assert ds.attrs["likelihood_blocks"] == 4
    assert int(ds["diverging"].sum()) == 0
    t = tutorial_truth()
    for site, truth in (("z_narrow", t["z"]), ("fwhm_gauss_narrow", t["fwhm_kms"])):
        lo, hi = np.quantile(samples[site], [0.025, 0.975])
        assert lo <= truth <= hi, (site, lo, truth, hi)
    for site in args.free_sites:
        np.testing.assert_array_equal(samples[site], samples_again[site])


def test_run_threaded_reraises_in_the_caller():
    spectra, flc, fcc = tutorial_fit1()
    program, _ = model.ModelBuilder(flc, fcc, spectra).build()
    backend = get_backend("embedded")
    density = backend.log_density(backend.compile(program.code, progress=False), program.data)
    with pytest.raises(ValueError, match="unconstrained parameter vector has shape"):
        density.run_threaded(2, lambda: density(np.zeros(3)))


def test_automatic_threads_stay_single_for_the_small_tutorial():
    spectra, flc, fcc = tutorial_fit1()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a short run: low-ESS warnings
        _, args = model.ModelBuilder(flc, fcc, spectra).fit(
            num_warmup=100, num_samples=100, num_chains=1, progress_bar=False
        )
    assert args.dataset.attrs["threads_per_chain"] == 1
    assert args.dataset.attrs["likelihood_blocks"] == 1


@pytest.mark.parametrize("mode", ["absorbers", "convolution"])
def test_absorbers_and_convolution_mode_run_one_thread_per_chain(mode):
    """The layout stage gives a model with absorbers, or in convolution mode, one thread per
    chain and one block per spectrum, and says so when more threads were asked for."""
    from conftest import absorption_configuration
    from test_render import _absorption_spectra

    from unite_stan.stan.settings import FitSettings, SamplerSettings
    from unite_stan.stan.stages import layout
    from unite_stan.stan.stages.state import FitState

    lines, cont = absorption_configuration()
    spectra = _absorption_spectra(None)
    spectra.prepare(lines, cont)
    builder = model.ModelBuilder(lines, cont, spectra)
    program, args = builder.build(
        integration_mode="convolution" if mode == "convolution" else "analytic"
    )
    settings = FitSettings(
        sampler=SamplerSettings(num_warmup=10, num_samples=10, num_chains=1, seed=1),
        threads_per_chain=2,
    )
    state = FitState(
        program=program, args=args, settings=settings, rng=np.random.default_rng(1),
        sampler=settings.sampler,
    )  # fmt: skip
    what = "convolution mode" if mode == "convolution" else "a model with absorbers"
    with pytest.warns(UserWarning) as record:
        state = layout.stage(state)
    assert str(record[0].message) == (
        f"threads_per_chain=2: {what} runs one thread per chain; the chains still run in parallel"
    )
    assert state.sampler.threads_per_chain == 1
    assert state.layout.blocks == (1,)
