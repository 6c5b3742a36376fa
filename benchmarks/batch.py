"""Batch throughput: spectra per minute of the tutorial's structure for 1 and 2 workers.

    python benchmarks/batch.py                     # 24 objects, 1 and 2 workers
    python benchmarks/batch.py --objects 60 --workers 1 2

Each object is a simulated spectrum of the tutorial's structure (tests/batch/_simulate.py: Ha,
[NII], [SII] on a linear continuum, 600 pixels), fitted with 2 chains x (500 warmup + 1000
draws), as in benchmarks/scenarios.py. The program is compiled (cached) before timing. One
worker is the serial executor (two chains in parallel); N > 1 workers a
concurrent.futures process pool (one chain at a time per worker, as the cores allow). The
wall time covers everything fit_many does: the parent's first fit, loading, fitting, writing
the netCDF/FITS/status files and the merge. The machine's load average is recorded beside the
figures (other processes share the cores). Writes benchmarks/results/batch.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "batch"))
os.environ.setdefault("UNITE_STAN_BACKEND", "embedded")
import _simulate as sim  # noqa: E402

DRAWS = {"num_warmup": 500, "num_samples": 1000, "num_chains": 2}


def run(objects: int, workers: int) -> dict:
    from unite_stan.batch import fit_many

    source = [(f"b{i:03d}", sim.spectrum(i), 0.0) for i in range(objects)]
    with tempfile.TemporaryDirectory() as out:
        load = os.getloadavg()[0]
        start = time.perf_counter()
        if workers == 1:
            result = fit_many(
                sim.configuration(), source, output_dir=out, seed=1, scale_kwargs=sim.SCALES,
                progress=False, **DRAWS,
            )  # fmt: skip
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                result = fit_many(
                    sim.configuration(), source, output_dir=out, executor=pool, seed=1,
                    scale_kwargs=sim.SCALES, progress=False, **DRAWS,
                )  # fmt: skip
        seconds = time.perf_counter() - start
    return {
        "workers": workers,
        "objects": objects,
        "seconds": round(seconds, 2),
        "spectra_per_minute": round(60 * objects / seconds, 1),
        "failed": result.count("failed"),
        "poor_convergence": result.count("poor_convergence"),
        "settings": result.settings,
        "load_average_before": round(load, 2),
        "cores": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=24)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    # compile (or load) the program outside the timing
    from unite_stan.batch import fit_many

    with tempfile.TemporaryDirectory() as out:
        fit_many(
            sim.configuration(), [("warm", sim.spectrum(0), 0.0)], output_dir=out,
            scale_kwargs=sim.SCALES, progress=False, **DRAWS,
        )  # fmt: skip
    rows = [run(args.objects, w) for w in args.workers]
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "batch.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = [
        "| workers | objects | seconds | spectra / minute | load average before |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['workers']} | {r['objects']} | {r['seconds']} | {r['spectra_per_minute']} | "
            f"{r['load_average_before']} |"
        )
    (results / "batch.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
