"""Stage ``starts``: unite's start points for the chains, and the pilot's optimiser starts with
line fluxes within the data's scale (no compiler needed)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tutorial_fit1

from unite_stan import model, prior
from unite_stan.stan.run import constrain
from unite_stan.stan.settings import FitSettings, SamplerSettings
from unite_stan.stan.stages import starts
from unite_stan.stan.stages.state import FitState

FLUXES = ["flux_Ha", "flux_NII_6549", "flux_SII_6717"]


def start_state(spectra, flc, fcc, chains=4, init_values=None):
    program, args = model.ModelBuilder(flc, fcc, spectra).build()
    settings = FitSettings(
        sampler=SamplerSettings(num_warmup=100, num_samples=100, num_chains=chains, seed=3),
        init_values=init_values or {},
    )
    state = FitState(
        program=program,
        args=args,
        settings=settings,
        rng=np.random.default_rng(3),
        sampler=settings.sampler,
    )
    return starts.stage(state), args


def test_pilot_starts_fluxes_within_the_data_scale_and_chains_start_as_in_unite():
    spectra, flc, fcc = tutorial_fit1()
    state, args = start_state(spectra, flc, fcc, chains=6)
    assert len(state.starts) == 6 and len(state.inits) == 6
    for point, start in zip(state.inits, state.starts, strict=True):
        unite_point, pilot_start = constrain(args, point), constrain(args, start)
        # the flux prior is U(0, 3): the pilot starts it in (0.01, 1) (log-uniform), the
        # chains (pilot off) anywhere unite's uniform(-2, 2) logistic draws put it
        for name in FLUXES:
            assert 0.01 <= pilot_start[name] <= 1.0
            s = unite_point[name] / 3.0
            assert -2.0 < np.log(s / (1 - s)) < 2.0
        # every other site but the redshift is where unite would start it
        for name in set(args.free_sites) - {*FLUXES, "z_narrow"}:
            assert pilot_start[name] == pytest.approx(unite_point[name], rel=1e-12)
    spread = [constrain(args, s)["flux_Ha"] for s in state.starts]
    assert max(spread) / min(spread) > 2.0
    # the redshift (prior U(-0.001, 0.001)): one start in each sixth of its prior, within the
    # middle 80 % of it
    place = np.sort([(constrain(args, s)["z_narrow"] + 0.001) / 0.002 * 6 for s in state.starts])
    np.testing.assert_array_equal(np.floor(place), np.arange(6))
    assert np.all((place % 1 > 0.1) & (place % 1 < 0.9))
    assert state.info["starts"]["stratified_redshifts"] == ["z_narrow"]


def test_user_start_values_are_kept_in_both_kinds_of_start():
    spectra, flc, fcc = tutorial_fit1()
    state, args = start_state(spectra, flc, fcc, init_values={"flux_Ha": 2.5, "z_narrow": 2e-4})
    for point in (*state.starts, *state.inits):
        assert constrain(args, point)["flux_Ha"] == pytest.approx(2.5, rel=1e-12)
        assert constrain(args, point)["z_narrow"] == pytest.approx(2e-4, rel=1e-12)
    assert state.info["starts"]["user_values"] == ["flux_Ha", "z_narrow"]
    assert state.info["starts"]["stratified_redshifts"] == []


def test_signed_flux_priors_start_around_zero():
    """unite's default narrow-flux prior U(-3, 3): the pilot starts fluxes in (-1, 1)."""
    spectra, flc, fcc = tutorial_fit1()
    for entry in flc:
        entry.flux.prior = prior.Uniform(-3.0, 3.0)
    state, args = start_state(spectra, flc, fcc, chains=8)
    values = np.array([[constrain(args, s)[n] for n in FLUXES] for s in state.starts])
    assert np.all(np.abs(values) <= 1.0) and np.all(np.abs(values) >= 0.01)
