"""When does splitting a chain's likelihood over threads (reduce_sum) pay?

    python benchmarks/threads.py                 # the default scenarios, both backends
    python benchmarks/threads.py --only dozen_lines --backends embedded

For each scenario, with a warm cache:

* on the embedded backend, the cost of one log-density gradient with the likelihood in one
  block (the serial path, no reduce_sum) and split into 4 blocks (reduce_sum_static) evaluated
  with 1 and with 2 threads;
* on each backend (CmdStan where ``CMDSTAN`` or cmdstanpy finds one), one chain of 500 + 1000
  iterations with ``threads_per_chain`` 1 and 2 (wall time of the run after compilation, min
  bulk ESS, ESS per second), 1 and 2 threads in turn ``--runs`` times, the fastest of each.

On one thread the fit sums the pixels that carry only a Linear continuum through their
continuum statistics, and the threaded program keeps every pixel in its blocks, so the
one-chain runs compare two different likelihoods; ``--all-pixels`` leaves the statistics out
of both, which measures what threads do for a likelihood that keeps all its pixels (another
continuum form, sampled pixel offsets).

Writes ``benchmarks/results/threads.{json,md}`` with the machine's load average. The measured
crossover sets ``THREAD_MIN_PIXELS`` and ``THREAD_MIN_THREADS`` of
``unite_stan.stan.stages.layout``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import scenarios  # noqa: E402
from run import stan_api  # noqa: E402

DEFAULT = ["tutorial_fit1", "two_resolutions", "wide_grating", "full_continuum"]


def build_case(api, name):
    if name == "tutorial_fit1":
        return scenarios.tutorial_fit1(api)
    return {**scenarios.SCENARIOS, **scenarios.HARD_SCENARIOS, **scenarios.EXTRA_SCENARIOS}[name](
        api
    )


def gradient_seconds(density, x, threads, repeats):
    """Mean wall time of one gradient, evaluated in a thread with ``threads`` TBB threads."""

    def work():
        density(x)
        t0 = time.perf_counter()
        for _ in range(repeats):
            density(x)
        return (time.perf_counter() - t0) / repeats

    return density.run_threaded(threads, work)


def one_chain(builder, backend, threads):
    """Wall time after compilation and ESS per second of one chain of 500 + 1000 iterations."""
    from unite_stan import diagnostics

    t0 = time.perf_counter()
    _, args = builder.fit(
        num_warmup=500,
        num_samples=1000,
        num_chains=1,
        seed=0,
        progress_bar=False,
        threads_per_chain=threads,
        backend=backend,
    )
    wall = time.perf_counter() - t0 - float(args.dataset.attrs["compile_seconds"])
    ds = args.dataset
    ess = min(diagnostics.ess_bulk(ds[k].values) for k in ds.attrs["free_parameters"])
    return round(wall, 2), round(ess / wall, 1)


def default_backends():
    from unite_stan.stan.backends.cmdstan import cmdstan_home

    try:
        cmdstan_home()
    except Exception:  # no CmdStan: the embedded backend only
        return ["embedded"]
    return ["embedded", "cmdstan"]


def main():
    from unite_stan.stan.backends import get_backend
    from unite_stan.stan.render import Layout
    from unite_stan.stan.stages.layout import likelihood_blocks

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", default=DEFAULT)
    parser.add_argument("--backends", nargs="*", default=None, help="default: both if found")
    parser.add_argument("--repeats", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=2, help="one-chain runs per thread count")
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--all-pixels", action="store_true", help="no continuum statistics")
    opts = parser.parse_args()
    if opts.all_pixels:
        import unite_stan.stan.render

        unite_stan.stan.render.continuum_statistics = lambda data, **kwargs: None
    os.environ.setdefault("UNITE_STAN_BACKEND", "embedded")
    api = stan_api()
    engine = get_backend("embedded")
    rows = []
    for name in opts.only:
        case = build_case(api, name)
        builder = api.model.ModelBuilder(case.lines, case.continuum, case.spectra)
        program, _ = builder.build()
        compiled = engine.compile(program.code, progress=False)
        row = {"scenario": name, "pixels": int(program.data["N_pix"])}
        x = np.zeros(len(program.free_sites))
        serial = engine.log_density(compiled, program.data)
        repeats = max(50, int(opts.repeats * 400 / row["pixels"]))
        row["grad_us_1block"] = round(1e6 * gradient_seconds(serial, x, 1, repeats), 1)
        split = program.laid_out(Layout(blocks=tuple(likelihood_blocks(program.data, 2))))
        row["blocks"] = int(split.data["N_block"])
        # the threaded program (reduce_sum_static over the blocks), compiled separately
        blocked = engine.log_density(engine.compile(split.code, progress=False), split.data)
        for threads in (1, 2):
            row[f"grad_us_blocks_{threads}t"] = round(
                1e6 * gradient_seconds(blocked, x, threads, repeats), 1
            )
        for backend in opts.backends or default_backends():
            prefix = "" if backend == "embedded" else f"{backend}_"
            best = {}
            for _ in range(opts.runs):  # 1 and 2 threads in turn; the fastest run of each
                for threads in (1, 2):
                    run = one_chain(builder, backend, threads)
                    best[threads] = min(best.get(threads, run), run)
            for threads, (wall, ess_per_s) in best.items():
                row[f"{prefix}run_s_{threads}t"] = wall
                row[f"{prefix}ess_per_s_{threads}t"] = ess_per_s
            row[f"{prefix}speedup"] = round(row[f"{prefix}run_s_1t"] / row[f"{prefix}run_s_2t"], 2)
        row["load"] = round(os.getloadavg()[0], 2)
        rows.append(row)
        print(json.dumps(row), flush=True)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "all_pixels": opts.all_pixels,
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    (out / "threads.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    cols = list(dict.fromkeys(c for r in rows for c in r))
    table = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    table += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    (out / "threads.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
