"""Frequentist check of a calibration study's objects: fit one object's truth again under fresh
noise, many times, and report each free parameter's (truth - median) / sd and the rank of the
truth among 99 draws over the refits.

    python benchmarks/coverage_repeat.py --config broad --ids sim0090,sim0080 --repeats 30

At high S/N the prior hardly matters, so a posterior that is right gives (truth - median) / sd
with a spread of about 1 and ranks in the tails (0-2 or 97-99) in about 6 % of the refits,
whatever the truth; a spread well above 1 there points at the likelihood or the sampler, not at
the prior. The truths are those of the study with ``--seed`` (benchmarks/coverage.py: object
``sim<i>`` is drawn from ``default_rng([seed, i])``); the noise of refit k of object i comes
from ``default_rng([777, i, k])``, and refit k samples with seed k (2 chains x (500 + 1000), as
the study). Prints a line per object and parameter, and the pooled lines; writes
benchmarks/results/coverage_repeat_<config>_seed<seed>[_<name>].json (per refit: z and rank of
every free parameter, per object).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import coverage as study  # noqa: E402

from unite_stan import calibration  # noqa: E402


def refit(config, args, make, truth: dict, index: int, repeats: int) -> dict[str, list]:
    """(z, rank) of every free parameter for ``repeats`` noise realisations of ``truth``."""
    out: dict[str, list] = {name: [] for name in args.free_sites}
    for k in range(repeats):
        rng = np.random.default_rng([777, index, k])
        spectra = make(calibration.simulate_fluxes(args, truth, rng))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # short runs' convergence warnings: not the question
            samples, _ = study.fit_one(config, spectra, k, **study.DRAWS)
        for name in args.free_sites:
            x = np.asarray(samples[name], dtype=float)
            z = (truth[name] - np.median(x)) / np.std(x)
            out[name].append([float(z), calibration.sbc_rank(x, truth[name], study.N_RANKS)])
    return out


def line(label: str, rows: list) -> str:
    z = np.array([r[0] for r in rows])
    rank = np.array([r[1] for r in rows])
    tails = np.mean((rank <= 2) | (rank >= 97))
    return (
        f"{label:32s} n {len(z):4d}  mean z {z.mean():+.3f}  sd z {z.std(ddof=1):.3f}  "
        f"|z| > 1.96 {np.mean(np.abs(z) > 1.96):.3f}  rank tails {tails:.3f}"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=("tutorial", "broad"), default="broad")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--ids", required=True, help="comma-separated object ids, e.g. sim0002")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--name", default="", help="suffix of the output file's name")
    opts = parser.parse_args(argv)
    if opts.repeats < 2:
        parser.error(f"--repeats {opts.repeats}: need at least 2 refits for a spread")
    config = study.configuration(opts.config)
    args, make = study.simulator(config, *study.reference_scales())
    results = {}
    for oid in opts.ids.split(","):
        index = int(oid.removeprefix("sim"))
        truth = calibration.draw_prior(args, np.random.default_rng([opts.seed, index]))
        start = time.perf_counter()
        results[oid] = refit(config, args, make, truth, index, opts.repeats)
        print(f"{oid}: {opts.repeats} refits in {time.perf_counter() - start:.0f} s")
        for name, rows in results[oid].items():
            print("  " + line(name, rows))
    print("pooled:")
    for name in args.free_sites:
        print("  " + line(name, [r for per in results.values() for r in per[name]]))
    suffix = f"_{opts.name}" if opts.name else ""
    path = HERE / "results" / f"coverage_repeat_{opts.config}_seed{opts.seed}{suffix}.json"
    path.write_text(json.dumps({"ids": opts.ids, "repeats": opts.repeats, **results}) + "\n")


if __name__ == "__main__":
    main()
