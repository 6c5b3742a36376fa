"""Run benchmark scenarios on unite (JAX/NumPyro, float64) and print one JSON line each.

Runs in a separate Python >= 3.12 environment with ``unite``, ``jax`` and ``numpyro``
installed; ``benchmarks/run.py`` calls it. The model and settings are unite's own
(``ModelBuilder.build()`` + NumPyro NUTS with ``dense_mass=True``, as ``fit()`` does), run through
``numpyro.infer.MCMC`` directly only to read the divergence and leapfrog counts that ``fit()``
does not return.

    python benchmarks/run_unite.py broad_narrow low_snr ...
"""

from __future__ import annotations

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import astropy.units as u  # noqa: E402
import numpy as np  # noqa: E402
import numpyro  # noqa: E402
from numpyro.infer import MCMC, NUTS  # noqa: E402
from unite import model, results  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import measure  # noqa: E402
import scenarios  # noqa: E402

API = scenarios.api_of("unite")


def run_case(case, seed=0):
    fn, args = model.ModelBuilder(case.lines, case.continuum, case.spectra).build()
    chains = case.fit["num_chains"]

    m = MCMC(
        NUTS(fn, dense_mass=True),
        num_warmup=case.fit["num_warmup"],
        num_samples=case.fit["num_samples"],
        num_chains=chains,
        chain_method="parallel",
        progress_bar=False,
    )
    # The first run pays for JAX tracing and XLA compilation; the second, identical run with
    # another key reuses them. compile ≈ first − second; the figures come from the first run.
    t0 = time.perf_counter()
    m.run(jax.random.PRNGKey(seed), args, extra_fields=("diverging", "num_steps"))
    wall = time.perf_counter() - t0
    grouped = m.get_samples(group_by_chain=True)
    extra = m.get_extra_fields(group_by_chain=True)
    t0 = time.perf_counter()
    m.run(jax.random.PRNGKey(seed + 1), args, extra_fields=("diverging", "num_steps"))
    run_s = time.perf_counter() - t0
    jit_s = max(wall - run_s, 0.0)
    free = [k for k in grouped if not k.startswith("obs_")]
    draws = {k: np.asarray(grouped[k]) for k in free}
    flat = {k: v.reshape(-1) for k, v in draws.items()}
    line_scale = case.spectra.line_scale.to_value(u.erg / u.s / u.cm**2)
    figures = measure.run_figures(
        draws,
        measure.truth_pairs(case, flat, line_scale),
        compile_s=jit_s,
        run_s=run_s,
        divergences=int(np.sum(extra["diverging"])),
        leapfrog_mean=float(np.mean(extra["num_steps"])),
    )
    figures["wall_s"] = round(wall, 2)
    return figures, flat


def main(names):
    numpyro.set_host_device_count(4)
    for name in names:
        if name in ("tutorial", "tutorial_fit1"):
            case = scenarios.tutorial_fit1(API)
            figures, flat = run_case(case)
            print(
                json.dumps({"scenario": "tutorial_fit1", "stack": "unite", **figures}), flush=True
            )
            if name == "tutorial":
                args = model.ModelBuilder(case.lines, case.continuum, case.spectra).build()[1]
                frozen = results.freeze_from_samples(flat, args)
                case2 = scenarios.tutorial_fit2(API, frozen, case)
                figures2, _ = run_case(case2)
                print(
                    json.dumps({"scenario": "tutorial_fit2", "stack": "unite", **figures2}),
                    flush=True,
                )
        elif name.startswith("batch"):
            n = int(name.split(":")[1]) if ":" in name else 3
            t0 = time.perf_counter()
            for k in range(n):
                figures, _ = run_case(scenarios.batch_member(API, k))
            per_min = 60.0 * n / (time.perf_counter() - t0)
            print(
                json.dumps(
                    {
                        "scenario": "batch",
                        "stack": "unite",
                        "n_spectra": n,
                        "spectra_per_min": round(per_min, 2),
                        **figures,
                    }
                ),
                flush=True,
            )
        else:
            case = {**scenarios.SCENARIOS, **scenarios.HARD_SCENARIOS}[name](API)
            figures, _ = run_case(case)
            print(json.dumps({"scenario": name, "stack": "unite", **figures}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
