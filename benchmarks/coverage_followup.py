"""Follow-up of a coverage study: refit chosen objects with a reference sampler.

    python benchmarks/coverage_followup.py --config broad --n 1000 --parameter fwhm_gauss_narrow

Reads the study's results (``benchmarks/results/coverage_<config>[_n<n>].json``), takes the
objects whose truth of ``--parameter`` has an SBC rank in the outer ``--tail`` ranks on
either side (by default 3: ranks 0-2 and 96-99 of 99 thinned draws, which holds nearly every
miss of the 95 % interval) and ``--controls`` objects drawn at random from the rest, and fits
each three times on the study's spectrum (same simulation seed):

* ``study``: as ``coverage.py`` fits it (``fit_many``'s fit: pilot, 2 chains x (500 + 1000),
  the object's seed), which reproduces the study's draws;
* ``long``: the pilot, 8 chains x (1000 + 2000);
* ``reference``: no pilot, Stan's own random starts (uniform(-2, 2) on the unconstrained
  scale), a dense metric, 8 chains x (1000 + 2000): no whitening, no mode search, chains that
  start apart;
* ``from_truth``: as ``reference`` but every chain starts at the simulation's truth: if the
  posterior holds mass near the truth in a decomposition the study's chains never visit,
  these chains stay there (and their log densities say how that region compares with the
  study's mode).

For each variant it reports whether the central 68 % and 95 % intervals of the parameter
hold the truth, the interval's width, R-hat and the chains' log densities. If the study's
intervals are too narrow because of the sampler (the pilot's choice of mode, its whitening,
short chains), the reference holds the truth in more of the tail objects than the study.
Output: ``benchmarks/results/coverage_followup_<config>[_seed<seed>]_<parameter>.{json,md}``.
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
os.environ.setdefault("UNITE_STAN_BACKEND", "embedded")

import coverage as study  # noqa: E402

from unite_stan import calibration  # noqa: E402
from unite_stan.batch import object_seed  # noqa: E402

SAME_MODE = 2.0  # log density: chains further below the best chain's mean are another mode
VARIANTS = {
    "study": {**study.DRAWS},
    "long": {"num_warmup": 1000, "num_samples": 2000, "num_chains": 8},
    "reference": {
        "num_warmup": 1000, "num_samples": 2000, "num_chains": 8,
        "pilot": False, "metric": "dense_e",
    },
    "from_truth": {
        "num_warmup": 1000, "num_samples": 2000, "num_chains": 8,
        "pilot": False, "metric": "dense_e", "init_truth": True,
    },
}  # fmt: skip


def summarise(samples, args, name: str, truth: float, factor: float) -> dict:
    """Interval checks of ``name`` over all chains, and over the chains in the best mode only
    (mean log density within ``SAME_MODE`` of the best chain's): a chain stuck in a local
    mode from a random start would widen the reference's intervals."""
    from unite_stan.diagnostics import rhat

    chains = np.asarray(args.dataset[name].values, dtype=float)  # (chain, draw)
    lp = np.asarray(args.dataset["log_prob"].values, dtype=float)  # unite's, any coordinates
    means = lp.mean(axis=1)
    best = means >= means.max() - SAME_MODE
    # the report derives how far below the best mode other chains lie from these means
    row = {
        "log_prob_chain_means": [float(v) for v in means],
        "chains_in_best_mode": int(best.sum()),
    }
    for suffix, keep in (("", np.ones_like(best)), ("_best_mode", best)):
        draws = chains[keep].reshape(-1)
        lo95, hi95 = np.quantile(draws, [0.025, 0.975])
        row.update({
            f"covers_68{suffix}": bool(calibration.interval_covers(draws, truth, 0.68)),
            f"covers_95{suffix}": bool(calibration.interval_covers(draws, truth, 0.95)),
            f"rank{suffix}": int(calibration.sbc_rank(draws, truth, study.N_RANKS)),
            f"width_95{suffix}": float((hi95 - lo95) * factor),
            f"median{suffix}": float(np.median(draws) * factor),
            f"rhat{suffix}": float(rhat(chains[keep])) if keep.sum() > 1 else float("nan"),
        })  # fmt: skip
    return row


def loglik_spread(samples, args, flux: np.ndarray, every: int = 10) -> float:
    """Spread (standard deviation) over every ``every``-th draw of Stan's log likelihood less
    the numpy forward model's (``evaluate_model``, the simulator's) on the simulated fluxes:
    zero up to rounding when the program is the simulator's model at the draws, not only at
    the truth (the two differ by a constant: the program's flux normalisation)."""
    from unite_stan.compute import evaluate_model

    stan = np.asarray(args.dataset["log_likelihood"].values, dtype=float).reshape(-1)[::every]
    free = {k: np.asarray(samples[k])[::every] for k in args.free_sites}
    (prediction,) = evaluate_model(free, args)
    z = (flux - prediction.total) / prediction.scaled_error
    return float(np.std(stan + 0.5 * np.sum(z**2, axis=1)))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=("tutorial", "broad"), default="broad")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2018)
    parser.add_argument("--parameter", default="fwhm_gauss_narrow")
    parser.add_argument("--tail", type=int, default=3)
    parser.add_argument("--controls", type=int, default=20)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    opts = parser.parse_args(argv)

    stem = f"coverage_{opts.config}" + ("" if opts.n == 200 else f"_n{opts.n}")
    stem += "" if opts.seed == 2018 else f"_seed{opts.seed}"
    summary = json.loads((HERE / "results" / f"{stem}.json").read_text())
    ranks = {o["id"]: o["rank"][opts.parameter] for o in summary["objects"] if "rank" in o}
    status = {o["id"]: o["status"] for o in summary["objects"]}
    tail = [i for i, r in ranks.items() if r < opts.tail or r > study.N_RANKS - opts.tail]
    rest = sorted(set(ranks) - set(tail))
    controls = sorted(
        np.random.default_rng(opts.seed).choice(rest, opts.controls, replace=False).tolist()
    )
    chosen = sorted(tail + controls)

    config = study.configuration(opts.config)
    args, truths, fluxes, source = study.simulate(config, opts.n, opts.seed)
    spectra_of = {oid: spectra for oid, spectra, _ in source}
    factor, unit = study.physical(args)[opts.parameter]

    seed_part = "" if opts.seed == 2018 else f"_seed{opts.seed}"
    out = HERE / "results" / f"coverage_followup_{opts.config}{seed_part}_{opts.parameter}.json"
    done = json.loads(out.read_text())["objects"] if out.exists() else {}
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    start = time.perf_counter()
    for k, oid in enumerate(chosen):
        row = done.setdefault(
            oid, {"group": "tail" if oid in tail else "control", "status": status[oid],
                  "study_rank": ranks[oid],
                  "truth": truths[oid][opts.parameter] * factor}
        )  # fmt: skip
        for vname in opts.variants:
            if vname in row and (vname != "study" or "loglik_vs_numpy_spread" in row[vname]):
                continue
            settings = dict(VARIANTS[vname])
            if settings.pop("init_truth", False):
                settings["init_strategy"] = {k: truths[oid][k] for k in args.free_sites}
            samples, fit_args = study.fit_one(
                config, spectra_of[oid], object_seed(opts.seed, oid), parallel_chains=2,
                **settings,
            )  # fmt: skip
            row[vname] = summarise(
                samples, fit_args, opts.parameter, truths[oid][opts.parameter], factor
            )
            if vname == "study":
                (flux,) = fluxes[oid]
                row[vname]["loglik_vs_numpy_spread"] = loglik_spread(samples, fit_args, flux)
        out.write_text(json.dumps({"objects": done}, indent=1) + "\n")
        print(f"{k + 1}/{len(chosen)} {oid} {row['group']} "
              + " ".join(f"{v}:{int(row[v]['covers_95'])}/{row[v]['rank']}"
                         for v in opts.variants if v in row), flush=True)  # fmt: skip
    seconds = time.perf_counter() - start
    load_after = Path("/proc/loadavg").read_text().split()[:3]

    lines = [
        f"Follow-up of `{stem}` for `{opts.parameter}` ({unit}): {len(tail)} objects whose "
        f"truth has SBC rank < {opts.tail} or > {study.N_RANKS - opts.tail} and "
        f"{len(controls)} controls; {seconds:.0f} s, load {load_before[0]} -> {load_after[0]}.",
        "",
        "| group | objects | variant | 68 % covers | 95 % covers | median 95 % width | "
        "max R-hat | best mode only: 68 % / 95 % covers, max R-hat |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for group in ("tail", "control"):
        rows = [r for r in done.values() if r["group"] == group]
        for vname in opts.variants:
            got = [r[vname] for r in rows if vname in r]
            if not got:
                continue
            lines.append(
                f"| {group} | {len(got)} | {vname} | {sum(g['covers_68'] for g in got)} | "
                f"{sum(g['covers_95'] for g in got)} | "
                f"{np.median([g['width_95'] for g in got]):.4g} | "
                f"{max(g['rhat'] for g in got):.3f} | "
                f"{sum(g['covers_68_best_mode'] for g in got)} / "
                f"{sum(g['covers_95_best_mode'] for g in got)}, "
                f"{np.nanmax([g['rhat_best_mode'] for g in got]):.3f} |"
            )
    rows = list(done.values())
    spreads = [r["study"]["loglik_vs_numpy_spread"] for r in rows if "study" in r]
    gaps = []
    for r in rows:
        if "reference" in r:
            means = np.asarray(r["reference"]["log_prob_chain_means"])
            below = means.max() - means
            gaps += [float(below[below > SAME_MODE].min())] if np.any(below > SAME_MODE) else []
    if spreads:
        lines += [
            "",
            f"Stan's log likelihood less the simulator's over every 10th draw of the "
            f"study's fits: spread at most {max(spreads):.1e} (objects: {len(spreads)}).",
        ]
    if gaps:
        lines += [
            f"Reference chains outside the best mode: the nearest lies {min(gaps):.1f} "
            f"below it in log density (median {np.median(gaps):.3g})."
        ]
    text = "\n".join(lines) + "\n"
    out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
