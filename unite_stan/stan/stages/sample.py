"""Stage ``sample``: the main NUTS run, raising ``adapt_delta`` while divergences remain
(when the user sets none), on the program laid out with the continuum statistics."""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from unite_stan.progress import report
from unite_stan.stan.convert import raw_to_draws
from unite_stan.stan.stages.state import FitState

__all__ = ["RETRY_WARMUP", "merge_chains", "retry_seed", "run_main", "stage", "warm_retry"]

#: Warmup iterations of a retry at a higher adapt_delta (step size only; see warm_retry).
RETRY_WARMUP = 150


def stage(state: FitState) -> FitState:
    return run_main(state, "sample")


def run_main(state: FitState, name: str) -> FitState:
    """Sample the main run on the state's layout with the continuum statistics; record under
    ``name`` (with each try's seconds). Shared by the stages that (re)run the main sampling.

    A run with divergent transitions is repeated at the next ``adapt_delta`` of the ladder
    (when the user set none): only its chains that diverged, each from its warmed-up state
    (:func:`warm_retry`); the chains that did not keep their draws (:func:`merge_chains`).
    """
    layout = dataclasses.replace(state.layout, statistics=True)
    main = state.program_for(layout)
    inits = [{"xi": np.asarray(x, dtype=float)} for x in state.inits]
    settings = state.sampler
    chains = list(range(settings.num_chains))
    raw, seconds, retried, found = None, [], [], []
    deltas = [state.settings.ladder[0]] * settings.num_chains
    for tries, target in enumerate(state.settings.ladder, start=1):
        run_settings = settings.replace(adapt_delta=target, num_chains=len(chains))
        if tries > 1:
            run_settings = run_settings.replace(seed=retry_seed(settings.seed, tries))
        start = time.perf_counter()
        run = state.engine.sample(
            state.compiled, main.data, run_settings, inits=[inits[c] for c in chains]
        )
        seconds.append(round(time.perf_counter() - start, 3))
        raw = run if raw is None else merge_chains(raw, run, chains)
        for c in chains:
            deltas[c] = target
        per_chain = run.column("divergent__").sum(axis=1)
        found.append(int(per_chain.sum()))
        diverged = [c for c, n in zip(chains, per_chain, strict=True) if n > 0]
        if not diverged:
            break
        if tries < len(state.settings.ladder):
            report(
                "sample",
                f"{found[-1]} divergent transitions at adapt_delta={target} in chain"
                f"{'s' * (len(diverged) > 1)} {', '.join(str(c + 1) for c in diverged)}: "
                f"sampling {'it' if len(diverged) == 1 else 'them'} again at "
                f"adapt_delta={state.settings.ladder[tries]}",
            )
            main, raw, inits, settings = warm_retry(main, raw, settings)
            chains = diverged
            retried.append(diverged)
    draws = raw_to_draws(raw, main, state.args)
    return state.update(draws=draws, main=main).note(
        name,
        adapt_delta=float(target),
        chain_adapt_delta=[float(d) for d in deltas],
        adapt_delta_tries=tries,
        retried_chains=retried,
        retry_metric=settings.metric if tries > 1 else None,
        retry_warmup=settings.num_warmup if tries > 1 else None,
        try_seconds=seconds,
        try_divergences=found,
        divergences=int(raw.column("divergent__").sum()),
        continuum_statistics_pixels=int(np.sum(main.data.get("region_stat_n", 0))),
    )


def warm_retry(main, raw, settings):
    """What a retry at a higher ``adapt_delta`` starts from: the warmed-up state of the run
    that diverged, not a fresh warmup.

    The run's adapted diagonal metric (averaged over chains) is folded into the coordinates
    (``u = loc + chol diag(sqrt(m)) xi``, data only), so the retry samples with the unit metric
    and adapts only its step size, over ``RETRY_WARMUP`` iterations, from the run's last
    draws. Returns ``(program, raw, inits, settings)``: ``raw`` is the run with its ``xi``
    draws (and metric) in the new coordinates, so the chains that are not retried can keep
    theirs, and ``inits`` holds every chain's last draw. A run with another metric, or whose
    warmup is already this short, is retried as it was.
    """
    last = raw.xi(len(main.free_sites))[:, -1]
    if settings.metric != "diag_e" or settings.num_warmup <= RETRY_WARMUP:
        return main, raw, [{"xi": x} for x in last], settings
    scale = np.sqrt(np.mean(raw.inv_metric, axis=0))
    program = main.with_coordinates(
        main.data["coord_loc"], np.asarray(main.data["coord_chol"]) * scale[None, :]
    )
    values = raw.values.copy()
    xi = [raw.columns.index(f"xi.{k + 1}") for k in range(len(main.free_sites))]
    values[:, :, xi] /= scale
    rescaled = dataclasses.replace(raw, values=values, inv_metric=raw.inv_metric / scale**2)
    inits = [{"xi": x / scale} for x in last]
    return program, rescaled, inits, settings.replace(metric="unit_e", num_warmup=RETRY_WARMUP)


def merge_chains(raw, run, chains):
    """``raw`` with its chains ``chains`` replaced by the chains of ``run``, in order."""
    merged = {}
    for name in ("values", "step_size", "inv_metric", "warmup_seconds", "sampling_seconds"):
        whole, part = np.array(getattr(raw, name), copy=True), getattr(run, name)
        if whole.shape[1:] != np.shape(part)[1:]:
            raise ValueError(
                f"cannot merge {name} of shape {np.shape(part)} into {whole.shape}: the retry "
                "ran another program"
            )
        whole[chains] = part
        merged[name] = whole
    messages = list(raw.messages) or [[] for _ in range(len(raw.values))]
    for c, lines in zip(chains, run.messages or [[] for _ in chains], strict=True):
        messages[c] = lines
    return dataclasses.replace(raw, messages=messages, **merged)


def retry_seed(seed: int, tries: int) -> int:
    """The seed of try ``tries`` (> 1): its chains are numbered from 1 again, so they draw
    from streams that no kept chain used."""
    return int(np.random.SeedSequence([seed, tries]).generate_state(1)[0])
