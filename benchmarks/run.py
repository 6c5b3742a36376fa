"""Benchmark unite_stan against unite on the same scenarios, side by side in one run.

    python benchmarks/run.py                      # all scenarios, both stacks when unite is found
    python benchmarks/run.py --only broad_narrow  # one scenario
    python benchmarks/run.py --unite-python /opt/unite-venv/bin/python
    python benchmarks/run.py --no-unite           # unite_stan only

unite needs Python >= 3.12 with ``unite``, ``jax`` and ``numpyro`` installed, e.g.
``python3.12 -m venv /opt/unite-venv && /opt/unite-venv/bin/pip install unite jax numpyro``.
It runs in float64 (jax_enable_x64) with one host device per chain (chains in parallel).

unite_stan compiles each program into a fresh cache (``--warm`` reuses the user cache) after
building the per-machine parts (C++ shim, precompiled header; timed separately as
``setup_s``), so the compile column is one program's cold compile; the run column is
everything after it (pilot, warmup, sampling, conversion). Results go to
``benchmarks/results/`` as JSON and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import astropy.units as u
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import measure  # noqa: E402
import scenarios  # noqa: E402

BATCH_SIZE = 20
COLUMNS = [
    "compile_s",
    "run_s",
    "min_ess_bulk",
    "min_ess_tail",
    "ess_per_s",
    "max_rhat",
    "divergences",
    "leapfrog",
    "truth_68",
    "truth_95",
]


def stan_api():
    return scenarios.api_of("unite_stan")


def run_stan_case(api, case, seed=0):
    t0 = time.perf_counter()
    samples, args = api.model.ModelBuilder(case.lines, case.continuum, case.spectra).fit(
        **case.fit, seed=seed, progress_bar=False
    )
    wall = time.perf_counter() - t0
    ds = args.dataset
    compile_s = float(ds.attrs["compile_seconds"])
    draws = {k: ds[k].values for k in ds.attrs["free_parameters"]}
    line_scale = case.spectra.line_scale.to_value(u.erg / u.s / u.cm**2)
    figures = measure.run_figures(
        draws,
        measure.truth_pairs(case, samples, line_scale),
        compile_s=compile_s,
        run_s=wall - compile_s,
        divergences=int(ds["diverging"].sum()),
        leapfrog_mean=float(ds["n_steps"].mean()),
    )
    figures["wall_s"] = round(wall, 2)
    figures["pilot"] = ds.attrs["pilot"]
    return figures, samples, args


def stan_runs(names):
    api = stan_api()
    rows = []
    for name in names:
        if name == "tutorial":
            case = scenarios.tutorial_fit1(api)
            figures, samples, args = run_stan_case(api, case)
            rows.append({"scenario": "tutorial_fit1", "stack": "unite_stan", **figures})
            print(json.dumps(rows[-1]), flush=True)
            frozen = api.results.freeze_from_samples(samples, args)
            figures2, *_ = run_stan_case(api, scenarios.tutorial_fit2(api, frozen, case))
            rows.append({"scenario": "tutorial_fit2", "stack": "unite_stan", **figures2})
        elif name == "batch":
            t0 = time.perf_counter()
            compiles = []
            for k in range(BATCH_SIZE):
                figures, *_ = run_stan_case(api, scenarios.batch_member(api, k))
                compiles.append(figures["compile_s"])
            elapsed = time.perf_counter() - t0
            rows.append(
                {
                    "scenario": "batch",
                    "stack": "unite_stan",
                    "n_spectra": BATCH_SIZE,
                    "spectra_per_min": round(60.0 * BATCH_SIZE / elapsed, 1),
                    "recompiles_after_first": int(sum(c > 5.0 for c in compiles[1:])),
                    **figures,
                    "compile_s": compiles[0],
                }
            )
        else:
            build = {
                **scenarios.SCENARIOS,
                **scenarios.HARD_SCENARIOS,
                **scenarios.LARGE_SCENARIOS,
            }[name]
            figures, *_ = run_stan_case(api, build(api))
            rows.append({"scenario": name, "stack": "unite_stan", **figures})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def unite_runs(python, names, batch_n):
    args = [n if n != "batch" else f"batch:{batch_n}" for n in names]
    proc = subprocess.run(
        [python, str(HERE / "run_unite.py"), *args], capture_output=True, text=True
    )
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
    for row in rows:
        print(json.dumps(row), flush=True)
    return rows


def markdown(rows):
    scen = []
    for r in rows:
        if r["scenario"] not in scen:
            scen.append(r["scenario"])
    head = "| scenario | stack | " + " | ".join(COLUMNS) + " | ESS/s ratio |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 3)]
    for s in scen:
        by_stack = {r["stack"]: r for r in rows if r["scenario"] == s}
        ratio = ""
        if "unite" in by_stack and "unite_stan" in by_stack:
            ratio = f"{by_stack['unite_stan']['ess_per_s'] / by_stack['unite']['ess_per_s']:.0f}×"
        for stack in ("unite_stan", "unite"):
            r = by_stack.get(stack)
            if r is None:
                continue
            name = (
                s
                if s != "batch"
                else f"batch ({r['n_spectra']} spectra, {r['spectra_per_min']}/min)"
            )
            cells = [str(r.get(c, "")) for c in COLUMNS]
            lines.append(
                f"| {name} | {stack} | "
                + " | ".join(cells)
                + f" | {ratio if stack == 'unite_stan' else ''} |"
            )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    all_names = ["tutorial", *scenarios.SCENARIOS, *scenarios.HARD_SCENARIOS, "batch"]
    parser.add_argument("--only", nargs="*", default=all_names, choices=all_names)
    parser.add_argument(
        "--unite-python", default=os.environ.get("UNITE_PYTHON", "/opt/unite-venv/bin/python")
    )
    parser.add_argument("--no-unite", action="store_true")
    parser.add_argument(
        "--unite-batch",
        type=int,
        default=3,
        help="batch members run on unite (each takes ~30 s there)",
    )
    parser.add_argument("--warm", action="store_true", help="reuse the user compile cache")
    parser.add_argument(
        "--unite-results",
        default=None,
        help="take unite's rows from this earlier benchmarks.json instead of "
        "running unite again (its rows are marked with their date)",
    )
    parser.add_argument("--out", default=str(HERE / "results"))
    opts = parser.parse_args()
    if not opts.warm:
        os.environ["UNITE_STAN_CACHE"] = tempfile.mkdtemp(prefix="unite_stan_bench_cache_")
    os.environ.setdefault("UNITE_STAN_BACKEND", "embedded")
    # The per-machine setup (C++ shim, precompiled header) first, so each compile_s is one model.
    from unite_stan.stan.backends.embedded import EmbeddedBackend

    t0 = time.perf_counter()
    EmbeddedBackend().prepare(progress=False)
    setup_s = round(time.perf_counter() - t0, 1)
    print(f"one-off setup (shim + precompiled header): {setup_s} s", flush=True)
    rows = stan_runs(opts.only)
    have_unite = not opts.no_unite and Path(opts.unite_python).exists()
    unite_from = None
    if opts.unite_results:
        earlier = json.loads(Path(opts.unite_results).read_text())
        unite_from = earlier["meta"]["date"]
        rows += [r for r in earlier["rows"] if r["stack"] == "unite"]
        have_unite = False
    elif have_unite:
        rows += unite_runs(opts.unite_python, opts.only, opts.unite_batch)
    else:
        print(f"unite not run ({opts.unite_python} not found or --no-unite)", file=sys.stderr)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "unite_run": have_unite,
        "unite_rows_from": unite_from,
        "setup_s": setup_s,
    }
    (out / "benchmarks.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    table = markdown(rows)
    (out / "benchmarks.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
