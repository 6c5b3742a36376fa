"""Stan's output as named draws: :class:`~unite_stan.stan.backends.base.RawDraws` (Stan's
columns) -> :class:`~unite_stan.draws.Draws` (unite's site names, dims chain and draw)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from unite_stan.compute import resolve_site_values
from unite_stan.draws import Draws
from unite_stan.stan.coordinates import log_prob_offset

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["SAMPLE_STATS", "draws_to_dataset", "raw_to_draws"]

SAMPLE_STATS = {
    "accept_stat__": "acceptance_rate",
    "stepsize__": "step_size",
    "treedepth__": "tree_depth",
    "n_leapfrog__": "n_steps",
    "divergent__": "diverging",
    "energy__": "energy",
}


def draws_to_dataset(raw, program, args) -> xr.Dataset:
    """Stan output → ``xarray.Dataset`` with dims (chain, draw), variables named by site.

    The dataset of :func:`raw_to_draws`, which describes its variables and attributes.
    """
    return raw_to_draws(raw, program, args).to_dataset()


def raw_to_draws(raw, program, args) -> Draws:
    """Stan output → :class:`~unite_stan.draws.Draws` with dims (chain, draw), variables
    named by site.

    Every site of ``args.dependency_order`` (Fixed ones resolved per draw), ``lp__`` (Stan's
    target, in the program's coordinates), ``log_prob`` (unite's log joint on its unconstrained
    scale), ``log_likelihood`` (chain, draw, spectrum) and the sampler statistics of
    ``SAMPLE_STATS``; attributes name the backend, program hash, seed, timings and the free and
    fixed parameters.
    """
    columns = {c: k for k, c in enumerate(raw.columns)}
    n_chain, n_draw = raw.values.shape[:2]
    coords = {"chain": np.arange(n_chain), "draw": np.arange(n_draw)}
    data_vars = {}

    def col(name):
        return raw.values[:, :, columns[name]]

    samples = {}
    for site in program.free_sites:
        samples[site] = col(program.name_map.ident(site)).reshape(-1)
    values = resolve_site_values(samples, args)
    for site in args.dependency_order:
        data_vars[site] = (("chain", "draw"), values[site].reshape(n_chain, n_draw))
    data_vars["lp__"] = (("chain", "draw"), col("lp__"))
    # unite's log_prob: lp__ carries the Jacobian of the program's coordinates
    offset = log_prob_offset(args, values, program.flux_scales).reshape(n_chain, n_draw)
    data_vars["log_prob"] = (("chain", "draw"), col("lp__") + offset)
    n_spec = len(args.spectra)
    loglik = np.stack([col(f"log_lik_spec.{s + 1}") for s in range(n_spec)], axis=-1)
    data_vars["log_likelihood"] = (("chain", "draw", "spectrum"), loglik)
    for stan_name, name in SAMPLE_STATS.items():
        if stan_name in columns:
            v = col(stan_name)
            if name == "diverging":
                v = v.astype(bool)
            elif name in ("tree_depth", "n_steps"):
                v = v.astype(int)
            data_vars[name] = (("chain", "draw"), v)
    coords["spectrum"] = [s.name for s in args.spectra]
    return Draws(
        data_vars,
        coords,
        {
            "backend": raw.backend,
            "program_hash": program.code_hash,
            "seed": int(raw.seed),
            "warmup_seconds": float(np.max(raw.warmup_seconds)),
            "sampling_seconds": float(np.max(raw.sampling_seconds)),
            "free_parameters": list(program.free_sites),
            "fixed_parameters": list(program.fixed_sites),
        },
    )
