"""The embedded and CmdStan backends side by side, on the same scenarios in one run.

    CMDSTAN=... python benchmarks/backends.py                   # tutorial Fit 1, 3 repeats
    CMDSTAN=... python benchmarks/backends.py --only broad_narrow low_snr --repeats 2

Both backends run the same Stan program through the same stages; only the adapter differs
(embedded: in-process; CmdStan: processes for log_prob batches, optimize and sample). Each
scenario is fitted once untimed per backend (the compile cache then holds both builds), then
``--repeats`` times per backend, alternating. Reported per backend (medians): the whole fit's
wall time after compiling, the stages' seconds (pilot, refine, sample), min bulk ESS per second
of the run, max R-hat, divergences. The machine's load average is recorded beside the figures.
Writes ``benchmarks/results/backends.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import scenarios  # noqa: E402
from run import stan_api  # noqa: E402

BACKENDS = ("embedded", "cmdstan")


def fit_once(api, case, backend, seed):
    from unite_stan import diagnostics

    t0 = time.perf_counter()
    _, args = api.model.ModelBuilder(case.lines, case.continuum, case.spectra).fit(
        **case.fit, seed=seed, progress_bar=False, backend=backend
    )
    wall = time.perf_counter() - t0
    ds = args.dataset
    seconds = args.run_info["seconds"]
    run_s = wall - seconds["compile"]
    free = ds.attrs["free_parameters"]
    bulk = min(diagnostics.ess_bulk(ds[k].values) for k in free)
    return {
        "run_s": run_s,
        "pilot_s": seconds["pilot"],
        "refine_s": seconds["refine"],
        "sample_s": seconds["sample"] + seconds["window_check"],
        "min_ess_bulk": bulk,
        "ess_per_s": bulk / run_s,
        "max_rhat": max(diagnostics.rhat(ds[k].values) for k in free),
        "divergences": int(ds["diverging"].sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=["tutorial"])
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    from unite_stan.stan.backends import cmdstan_available

    available, reason = cmdstan_available()
    if not available:
        sys.exit(f"CmdStan is needed for this benchmark: {reason}")
    api = stan_api()
    builders = {"tutorial": scenarios.tutorial_fit1, **scenarios.SCENARIOS}
    rows = []
    for name in options.only:
        case = builders[name](api)
        for backend in BACKENDS:  # compile (or load) both builds first
            fit_once(api, case, backend, seed=0)
        runs = {backend: [] for backend in BACKENDS}
        for repeat in range(options.repeats):
            for backend in BACKENDS:
                runs[backend].append(fit_once(api, case, backend, seed=repeat))
        for backend, figures in runs.items():
            row = {"scenario": name, "backend": backend, "load": os.getloadavg()[0]}
            for key in figures[0]:
                row[key] = round(statistics.median(f[key] for f in figures), 4)
            rows.append(row)
            print(json.dumps(row), flush=True)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "backends.json").write_text(json.dumps(rows, indent=1))
    keys = [k for k in rows[0] if k not in ("scenario", "backend")]
    lines = [
        f"Backends side by side ({time.strftime('%Y-%m-%d %H:%M')}, {options.repeats} repeats, "
        "medians; load = 1-minute load average after the runs)",
        "",
        "| scenario | backend | " + " | ".join(keys) + " |",
        "|---" * (len(keys) + 2) + "|",
    ]
    for row in rows:
        cells = [f"{row[k]:.3g}" if isinstance(row[k], float) else str(row[k]) for k in keys]
        lines.append(f"| {row['scenario']} | {row['backend']} | " + " | ".join(cells) + " |")
    (out / "backends.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
