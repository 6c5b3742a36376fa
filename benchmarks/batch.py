"""Batch throughput: spectra per minute of the tutorial's structure for 1 and 2 workers.

    python benchmarks/batch.py                     # 24 objects, 1 and 2 workers
    python benchmarks/batch.py --objects 60 --workers 1 2

Each object is a simulated spectrum of the tutorial's structure (tests/batch/_simulate.py: Ha,
[NII], [SII] on a linear continuum, 600 pixels), fitted with 2 chains x (500 warmup + 1000
draws), as in benchmarks/scenarios.py. The program is compiled (cached) before timing. One
worker is the serial executor (two chains in parallel); N > 1 workers a
concurrent.futures process pool (one chain at a time per worker, as the cores allow). The
wall time covers everything fit_many does: pool start-up, loading, fitting, writing
the netCDF/FITS/status files and the merge. The machine's load average is recorded beside the
figures (other processes share the cores). The same batches run again with
``fit_many(fits=False)`` (no ``<id>.fits``: the netCDF file, status and catalogue only).

The same run times ``fit()`` alone on the first objects (no outputs, no batch layer): with both
chains in parallel (two cores, one fit) and with the chains one after the other on one core.
The issue's yardstick, "the single-fit rate times the cores", is the second times the cores;
the batch's rates are reported against it, so that runs on faster or slower machines compare.
It also times ``fit()`` alone in one process per core at once (chains in turn): what the cores
give for bare fits when all are busy, the ceiling for any batch layer on this machine.
Writes benchmarks/results/batch.{json,md} (``--name``: another stem).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
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


def run(objects: int, workers: int, fits: bool = True) -> dict:
    from unite_stan.batch import fit_many

    source = [(f"b{i:03d}", sim.spectrum(i), 0.0) for i in range(objects)]
    with tempfile.TemporaryDirectory() as out:
        load = os.getloadavg()[0]
        start = time.perf_counter()
        if workers == 1:
            result = fit_many(
                sim.configuration(), source, output_dir=out, seed=1, scale_kwargs=sim.SCALES,
                progress=False, fits=fits, **DRAWS,
            )  # fmt: skip
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                result = fit_many(
                    sim.configuration(), source, output_dir=out, executor=pool, seed=1,
                    scale_kwargs=sim.SCALES, progress=False, fits=fits, **DRAWS,
                )  # fmt: skip
        seconds = time.perf_counter() - start
    return {
        "workers": workers,
        "fits": fits,
        "objects": objects,
        "seconds": round(seconds, 2),
        "spectra_per_minute": round(60 * objects / seconds, 1),
        "failed": result.count("failed"),
        "poor_convergence": result.count("poor_convergence"),
        "settings": result.settings,
        "load_average_before": round(load, 2),
        "cores": os.cpu_count(),
    }


def _time_fit(i: int, parallel_chains: int) -> float:
    """Seconds of ``fit()`` alone (no outputs) on spectrum ``i``."""
    from unite_stan.model import ModelBuilder
    from unite_stan.spectrum import Spectra

    config = sim.configuration()
    spectra = Spectra([sim.spectrum(i)], redshift=0.0)
    lines, cont = spectra.prepare(config.lines, config.continuum)
    spectra.compute_scales(lines, cont, **sim.SCALES)
    start = time.perf_counter()
    ModelBuilder(lines, cont, spectra).fit(
        seed=1, progress_bar=False, parallel_chains=parallel_chains, **DRAWS
    )
    return time.perf_counter() - start


def fit_alone(objects: int, parallel_chains: int) -> dict:
    """Median wall time of ``fit()`` alone (no outputs) over the first ``objects`` spectra."""
    load = os.getloadavg()[0]
    median = statistics.median(_time_fit(i, parallel_chains) for i in range(objects))
    return {
        "parallel_chains": parallel_chains,
        "objects": objects,
        "median_seconds": round(median, 3),
        "fits_per_minute": round(60 / median, 1),
        "load_average_before": round(load, 2),
    }


def _timed_fits(indices: list[int], barrier) -> list[float]:
    """Worker of :func:`fit_alone_concurrent`: one warm fit (loads the program), then, once
    every worker is warm, ``fit()`` with the chains in turn on each spectrum of ``indices``."""
    _time_fit(indices[0], 1)
    barrier.wait()
    return [_time_fit(i, 1) for i in indices]


def fit_alone_concurrent(objects: int, processes: int) -> dict:
    """``fit()`` alone in ``processes`` processes at once, chains in turn (one core each): what
    the cores give for bare fits when all of them are busy, with no batch layer around them.
    Where cores slow each other down (shared caches, memory bandwidth, a hypervisor's
    siblings), this is below the single-fit rate times the cores."""
    import multiprocessing

    load = os.getloadavg()[0]
    with multiprocessing.Manager() as manager, ProcessPoolExecutor(processes) as pool:
        barrier = manager.Barrier(processes)
        shares = [list(range(k, objects, processes)) for k in range(processes)]
        seconds = [f.result() for f in [pool.submit(_timed_fits, s, barrier) for s in shares]]
    medians = [statistics.median(s) for s in seconds]
    return {
        "processes": processes,
        "objects": objects,
        "median_seconds": [round(m, 3) for m in medians],
        "fits_per_minute": round(sum(60 / m for m in medians), 1),
        "load_average_before": round(load, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=24)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--alone", type=int, default=12, help="spectra for the fit-alone reference (0: none)"
    )
    parser.add_argument(
        "--fits-only", action="store_true", help="skip the batches without FITS files"
    )
    parser.add_argument(
        "--name", default="batch", help="results file stem (default batch: results/batch.*)"
    )
    args = parser.parse_args()
    # compile (or load) the program outside the timing
    from unite_stan.batch import fit_many

    with tempfile.TemporaryDirectory() as out:
        fit_many(
            sim.configuration(), [("warm", sim.spectrum(0), 0.0)], output_dir=out,
            scale_kwargs=sim.SCALES, progress=False, **DRAWS,
        )  # fmt: skip
    cores = os.cpu_count() or 1
    alone = [fit_alone(args.alone, pc) for pc in (2, 1)] if args.alone else []
    concurrent = fit_alone_concurrent(args.alone, cores) if args.alone and cores > 1 else None
    rows = [run(args.objects, w) for w in args.workers]
    if not args.fits_only:  # the same batches without the FITS files (fit_many(fits=False))
        rows += [run(args.objects, w, fits=False) for w in args.workers]
    # the yardstick: one fit's rate on one core (chains in turn) times the cores
    ideal = alone[1]["fits_per_minute"] * cores if alone else None
    busy = concurrent["fits_per_minute"] if concurrent else None
    for r in rows:
        r["fraction_of_single_fit_rate_times_cores"] = (
            round(r["spectra_per_minute"] / ideal, 3) if ideal else None
        )
        r["fraction_of_concurrent_fit_rate"] = (
            round(r["spectra_per_minute"] / busy, 3) if busy else None
        )
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / f"{args.name}.json").write_text(
        json.dumps({"batch": rows, "fit_alone": alone, "fit_alone_concurrent": concurrent,
                    "cores": cores, "date": time.strftime(
            "%Y-%m-%d %H:%M UTC", time.gmtime())}, indent=1) + "\n"
    )  # fmt: skip
    lines = [
        "| run | objects | seconds | spectra / minute | / (single-fit rate x cores) "
        "| / (concurrent fit() rate) | load before |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for a in alone:
        how = "both chains in parallel" if a["parallel_chains"] > 1 else "chains in turn, 1 core"
        lines.append(
            f"| fit() alone, {how} (median) | {a['objects']} | {a['median_seconds']} | "
            f"{a['fits_per_minute']} | | | {a['load_average_before']} |"
        )
    if ideal:
        lines.append(f"| single-fit rate x {cores} cores | | | {round(ideal, 1)} | 1 | | |")
    if concurrent:
        c = concurrent
        lines.append(
            f"| fit() alone in {c['processes']} processes at once, chains in turn (medians "
            f"{', '.join(map(str, c['median_seconds']))} s) | {c['objects']} | | "
            f"{c['fits_per_minute']} | {round(busy / ideal, 3) if ideal else ''} | 1 | "
            f"{c['load_average_before']} |"
        )
    for r in rows:
        what = "fit_many, serial" if r["workers"] == 1 else f"fit_many, {r['workers']} workers"
        what += "" if r["fits"] else ", no FITS files"
        frac = r["fraction_of_single_fit_rate_times_cores"]
        frac2 = r["fraction_of_concurrent_fit_rate"]
        lines.append(
            f"| {what} | {r['objects']} | {r['seconds']} | {r['spectra_per_minute']} | "
            f"{'' if frac is None else frac} | {'' if frac2 is None else frac2} | "
            f"{r['load_average_before']} |"
        )
    (results / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
