"""Stage ``pilot``: the Laplace approximation at the posterior mode, whose map whitens the
sampling coordinates (see :mod:`unite_stan.stan.pilot`), the check of how well it describes
the posterior, and where the chains start.

The optimiser runs from every start (the user's start values put in where given), so user
values shape which optima are found. Distinct optima are compared by their Laplace evidence:
chains start only in modes holding a non-negligible share of the posterior mass (at least
``exp(-MODE_DEPTH)`` of the largest), from draws of their Laplace approximations; comparable
modes each get chains in turn and are reported.

Where the model at the mode misfits the data (chi^2 over the fitted pixels more than
``MISFIT_SIGMAS`` standard deviations, sqrt(2 N), above its expectation N), the optimiser
runs again from ``RESTARTS`` new starts (``ROUNDS`` times at most, while the best
mode still misfits) and the best optimum of all wins: a wide redshift prior
lets lines settle on their neighbours, and four starts may all end in such a mode (7 of 400
simulated spectra in ``benchmarks/coverage.py``, chi^2 per pixel 2.4-8080 at their posterior
medians). A fit whose model describes the data never pays for it; one whose errors are
underestimated pays the extra starts (a few hundredths of a second each) and keeps its mode.

A model with more than one free redshift (kinematic components: broad and narrow lines,
outflows) always runs the ``RESTARTS`` more starts: its components can trade places, and a
weak broad line parked at a wrong redshift leaves a mode that fits the data nearly as well
(chi^2 13-130 above the truth's over 363 pixels, below any misfit limit) and holds both chains
with a fine R-hat. Four starts ended there in 6 of 1000 simulated broad + narrow spectra
(``benchmarks/coverage.py --config broad --n 1000``); sixteen found the better mode in 5 of
them. A single-redshift model (the tutorial's) keeps its four starts.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from unite_stan.diagnostics import chi2_and_pixels
from unite_stan.stan.render import Layout
from unite_stan.stan.run import constrain
from unite_stan.stan.stages.starts import draw_starts, explicit_values
from unite_stan.stan.stages.state import FitState

__all__ = ["MISFIT_SIGMAS", "MODE_DEPTH", "RESTARTS", "ROUNDS", "stage"]

#: Modes whose Laplace evidence is this far (natural log) below the largest hold less than
#: 1 % of its mass; no chain starts there. The AGN scenario of benchmarks/ (broad + narrow
#: Ha) has optima 112 and 265 below its mode (negative narrow Ha, a shifted redshift).
MODE_DEPTH = np.log(100.0)

#: chi^2 at the mode this many of its standard deviations (sqrt(2 N) for N pixels) above N
#: counts as a misfit, and the optimiser runs again from RESTARTS more starts. Lower than the
#: batch's ``misfit`` status (5, :data:`unite_stan.batch.MISFIT_SIGMAS`), which flags a fit
#: to the user: searching again is cheap (about 0.05-0.2 s a round) and a model that
#: describes the data exceeds 3 sigma in 0.3 % of fits, which then keep their mode (a new
#: optimum must be higher), while wrong modes of broad + narrow fits sit at 4-5 sigma
#: (chi^2 per pixel 1.23 and 1.34 over 363 pixels, 124 and 134 above the truth's, in 2 of
#: 2200 simulated spectra; ``benchmarks/coverage.py``).
MISFIT_SIGMAS = 3.0
RESTARTS = 12
#: Rounds of RESTARTS starts at most, while the best mode still misfits the data.
ROUNDS = 3


def stage(state: FitState) -> FitState:
    from unite_stan.stan.pilot import (
        comparable_modes,
        dispersed_inits,
        laplace_check,
        laplace_pilot,
    )

    if not state.settings.pilot:
        return state.note("pilot", used=False, kind="off")
    # the prior's windows (nothing narrowed yet), continuum-only pixels summed through their
    # statistics (exact), so the cost grows with the pixels near lines
    program = state.program_for(Layout(blocks=state.layout.blocks, statistics=True))
    density = state.engine.log_density(state.compiled, program.data)

    def coordinates(loc, chol):
        return state.engine.log_density(state.compiled, program.with_coordinates(loc, chol).data)

    result = laplace_pilot(density, list(state.starts), coordinates=coordinates)
    n_starts = len(state.starts)
    chi2 = _chi2_per_pixel(state, result)
    restarted = False
    components = len(state.recorded("starts", "stratified_redshifts", []))
    rounds = 0
    # extra starts come from streams of their own (the fit's generator jumped ahead once per
    # round; it is not advanced), so that extra starts finding nothing better leave the fit's
    # draws as they were
    stream = state.rng.bit_generator
    while rounds < ROUNDS and (chi2[0] > chi2[1] or (components > 1 and rounds == 0)):
        if not restarted:
            restarted = "misfit" if chi2[0] > chi2[1] else "redshifts"
        explicit = explicit_values(state.args, dict(state.settings.init_values))
        stream = stream.jumped()
        _, more, _ = draw_starts(state.args, np.random.Generator(stream), RESTARTS, explicit)
        result = _best_of(result, laplace_pilot(density, more, coordinates=coordinates))
        n_starts += RESTARTS
        rounds += 1
        chi2 = _chi2_per_pixel(state, result)
    info = {
        "used": result.kind != "identity",
        "kind": result.kind,
        "message": result.message,
        "mode_log_density": result.mode_log_density,
        "n_evaluations": result.n_evaluations,
        "seconds": result.seconds,
        "laplace_check_sd": np.inf,
        "other_modes": 0,
        "chi2_per_pixel": chi2[0],
        "misfit_limit": chi2[1],
        "restarts": RESTARTS * rounds,
    }
    if result.kind == "identity":
        return state.note("pilot", **info, summary=f"Laplace pilot: {result.message}")
    chains = state.sampler.num_chains
    modes = result.modes(density)
    kept = comparable_modes(modes, MODE_DEPTH)
    if len(kept) == 1:
        inits = dispersed_inits(result, chains, state.rng)
        origin = "draws of the Laplace approximation at the mode"
    else:
        # chains in turn over the comparable modes, in the best mode's whitened coordinates
        inits = [
            np.linalg.solve(result.chol, kept[c % len(kept)].draw(state.rng) - result.loc)
            for c in range(chains)
        ]
        origin = f"draws of the Laplace approximations at {len(kept)} comparable modes"
    info["laplace_check_sd"] = laplace_check(density, result, state.rng)
    info["other_modes"] = len(kept) - 1
    info["optima"] = len(modes)
    info["mode_log_evidence"] = [round(m.log_evidence, 2) for m in modes]
    info["chain_starts"] = origin
    info["summary"] = (
        f"Laplace pilot: {result.kind} map at the mode (log density "
        f"{result.mode_log_density:.1f}) from {n_starts} starts"
        + {
            False: "",
            "misfit": f" (the first {len(state.starts)} misfit the data)",
            "redshifts": f" ({components} free redshifts)",
        }[restarted]
        + f", {len(modes)} distinct optim{'a' if len(modes) > 1 else 'um'}, "
        f"{len(kept)} holding the posterior mass; chi2/pixel {chi2[0]:.2f}; check sd "
        f"{info['laplace_check_sd']:.2f}"
    )
    return state.update(loc=result.loc, chol=result.chol, inits=tuple(inits)).note("pilot", **info)


def _chi2_per_pixel(state: FitState, result) -> tuple[float, float]:
    """chi^2 per pixel of the model at the pilot's mode, and the misfit limit for it
    (``1 + MISFIT_SIGMAS sqrt(2 / N)``); ``(nan, inf)`` without a mode or pixels."""
    if result.kind == "identity":
        return float("nan"), float("inf")
    total, count = chi2_and_pixels(constrain(state.args, result.loc), state.args)
    if count == 0:
        return float("nan"), float("inf")
    return total / count, 1.0 + MISFIT_SIGMAS * float(np.sqrt(2.0 / count))


#: A second pilot run's mode replaces the first's only when higher by more than this (log
#: density): the same optimum found again differs by the optimiser's tolerance.
BETTER_BY = 1e-6


def _best_of(first, second):
    """The pilot result with the higher mode, holding both runs' optima and costs."""
    better = second if second.mode_log_density > first.mode_log_density + BETTER_BY else first
    return replace(
        better,
        optima=tuple(first.optima) + tuple(second.optima),
        n_evaluations=first.n_evaluations + second.n_evaluations,
        seconds=first.seconds + second.seconds,
    )
