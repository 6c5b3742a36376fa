"""Stage ``layout``: threads per chain and the likelihood's pixel blocks."""

from __future__ import annotations

import warnings

from unite_stan.stan.render import Layout
from unite_stan.stan.stages.state import FitState

__all__ = [
    "BLOCKS_PER_THREAD",
    "BLOCK_MIN_PIXELS",
    "THREAD_MIN_PIXELS",
    "THREAD_MIN_THREADS",
    "choose_threads",
    "likelihood_blocks",
    "stage",
]

#: Automatic threading needs this many pixels (all spectra) and at least THREAD_MIN_THREADS
#: cores per chain left over by the chains running at once. The threaded program now costs
#: what the serial one does per thread (its functions keep struct-of-arrays types, see
#: unite_stan.stan.soa) and both sum continuum-only pixels through the continuum statistics;
#: the thresholds stay where they were until benchmarks/threads.py has measured the crossover
#: on a machine with cores to spare (docs/performance.md).
THREAD_MIN_PIXELS, THREAD_MIN_THREADS = 4000, 4
#: Smallest block of pixels worth a reduce_sum task, and blocks per thread (load balance).
BLOCK_MIN_PIXELS, BLOCKS_PER_THREAD = 100, 2


def choose_threads(
    data: dict, num_chains: int, parallel_chains: int | None, threads_per_chain: int | None
) -> int:
    """Threads per chain: the user's choice (checked against the cores), else automatic.

    Automatic: the cores left over by the chains running at once, when there are at least
    :data:`THREAD_MIN_THREADS` of them per chain and the likelihood has at least
    :data:`THREAD_MIN_PIXELS` pixels; otherwise one.
    """
    from unite_stan.stan.backends.base import (
        available_cores,
        check_threads,
        default_parallel_chains,
    )

    if threads_per_chain is not None:
        check_threads(threads_per_chain, parallel_chains, num_chains)
        return int(threads_per_chain)
    if int(data["N_pix"]) < THREAD_MIN_PIXELS:
        return 1
    at_once = min(num_chains, parallel_chains or default_parallel_chains(num_chains))
    threads = available_cores() // at_once
    return threads if threads >= THREAD_MIN_THREADS else 1


def likelihood_blocks(data: dict, threads: int) -> list[int]:
    """Pixel blocks per spectrum for ``threads`` threads per chain (one block when unthreaded)."""
    n_pix = [int(n) for n in data["spec_n_pix"]]
    if threads <= 1:
        return [1] * len(n_pix)
    return [max(1, min(BLOCKS_PER_THREAD * threads, n // BLOCK_MIN_PIXELS)) for n in n_pix]


def stage(state: FitState) -> FitState:
    sampler = state.sampler
    structure = state.program.structure
    if structure is not None and (structure.convolution or structure.absorbers):
        # convolution mode's likelihood is one function per spectrum (its kernel joins the
        # cells of any split); the threaded text of a program with absorbers does not compile
        # yet (its struct-of-arrays rewrite): one thread per chain
        requested = state.settings.threads_per_chain
        if requested is not None and requested > 1:
            what = "convolution mode" if structure.convolution else "a model with absorbers"
            warnings.warn(
                f"threads_per_chain={requested}: {what} runs one thread per chain; the chains "
                "still run in parallel",
                UserWarning,
                stacklevel=2,
            )
        blocks = tuple([1] * len(state.program.data["spec_n_pix"]))
        return state.update(
            sampler=sampler.replace(threads_per_chain=1), layout=Layout(blocks=blocks)
        ).note("layout", threads_per_chain=1, likelihood_blocks=len(blocks), summary="")
    threads = choose_threads(
        state.program.data,
        sampler.num_chains,
        sampler.parallel_chains,
        state.settings.threads_per_chain,
    )
    blocks = tuple(likelihood_blocks(state.program.data, threads))
    return state.update(
        sampler=sampler.replace(threads_per_chain=threads), layout=Layout(blocks=blocks)
    ).note(
        "layout",
        threads_per_chain=threads,
        likelihood_blocks=int(sum(blocks)),
        summary=f"{threads} threads per chain over {int(sum(blocks))} pixel blocks"
        if threads > 1
        else "",
    )
