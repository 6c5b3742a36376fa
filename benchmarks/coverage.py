"""Calibration study: coverage of the 68 % / 95 % intervals and SBC rank histograms.

    python benchmarks/coverage.py --config tutorial           # 200 spectra, 2 workers
    python benchmarks/coverage.py --config broad --n 200 --workers 1
    python benchmarks/coverage.py --report benchmarks/results/coverage_broad.json  # no fits

For each of ``--n`` objects: every site is drawn from the configuration's prior
(:func:`unite_stan.calibration.draw_prior`, bounds that depend on other sites included), the
spectrum is the package's forward model at those values (``evaluate_model``: pixel averages)
plus Gaussian noise of the per-pixel errors (:func:`unite_stan.calibration.simulate_fluxes`),
and the objects are fitted through :func:`unite_stan.batch.fit_many` (one compile; 2 chains x
(500 warmup + 1000 draws); serial or a process pool). Per free parameter: the fraction of
truths inside the central 68 % and 95 % intervals of the 2000 draws (PASS when within binomial
2 sigma of nominal), and the rank of the truth among L = 99 draws thinned evenly from them
(Talts et al. 2018), histogrammed in 10 bins with the binomial 99 % band and a chi-square
uniformity p-value; the study's checks together are tested family-wise
(:func:`unite_stan.calibration.familywise_coverage_test`), for all fits and for the fits with
status ``ok`` (their coverage from the ranks). Coverage and ranks do not change under the
increasing maps from sampled to physical units; the truths are recorded in physical units
(parameter table's).

Scales: the priors of fluxes and continuum scales are in units of ``line_scale`` and
``continuum_scale``, which ``fit_many`` computes from each object's data. A prior that depends
on the data is not a prior SBC can draw from, so every object's ``Spectra`` here keeps the
scales of the tutorial's spectrum (``FixedScaleSpectra``: its ``compute_scales`` keeps them).

Priors: unite's defaults (Redshift U(-0.0025, 0.0025), FWHM U(0, 1000) km/s, Flux U(-3, 3)
line_scale, continuum scale U(0, 2) continuum_scale), except
* Linear's ``angle``: its default U(-pi/2, pi/2) puts 99.4 % of the prior on slopes above
  0.01 continuum_scale per Angstrom, i.e. continua that change by more than 2.5 times their
  level across the ~510 Angstrom region (the tutorial's slope is 0.002); used here:
  U(-0.005, 0.005) rad (at most +-1.3 continuum_scale between centre and edge);
* the broad component's FWHM (broad config): U(fwhm_gauss_narrow, 5000) km/s, broader than the
  narrow one by construction (the default U(0, 1000) would make broad and narrow Ha the same
  component).

The pixel grid is the tutorial's: 600 pixels over 6200-6800 Angstrom, R = 1200, per-pixel error
3e-17 erg/s/cm2/A. Outputs: benchmarks/results/coverage_<config>.{json,md} and
docs/figures/coverage_<config>.png; the fits go to --output (default
benchmarks/results/coverage_runs/<config>, not committed) and a re-run resumes them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import astropy.units as u
import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
os.environ.setdefault("UNITE_STAN_BACKEND", "embedded")

from unite_stan import calibration  # noqa: E402
from unite_stan.spectrum import Spectra  # noqa: E402

FLUX_UNIT = u.erg / u.s / u.cm**2 / u.AA
SCALES = {"line_mask_width": 3_000 * u.km / u.s, "box_width": 2_000 * u.km / u.s}
DRAWS = {"num_warmup": 500, "num_samples": 1000, "num_chains": 2}
N_RANKS, N_BINS = 99, 10
LEVELS = (0.68, 0.95)
ANGLE_PRIOR = (-0.005, 0.005)
BROAD_FWHM_HIGH = 5000.0
ERROR = 3.0e-17


class FixedScaleSpectra(Spectra):
    """A ``Spectra`` whose ``line_scale`` and ``continuum_scale`` are given, not estimated:
    ``compute_scales`` keeps them, so the priors in physical units are the same for every
    object (what simulation-based calibration needs)."""

    def compute_scales(self, *args, **kwargs) -> None:  # noqa: D102 - see the class
        if self.line_scale is None:
            raise ValueError("FixedScaleSpectra needs line_scale set before fitting")


def grid():
    """The tutorial's pixel grid: (low edges, high edges, disperser)."""
    from unite_stan.instrument.generic import SimpleDisperser

    wl = np.linspace(6200.0, 6800.0, 600)
    half = 0.5 * (wl[1] - wl[0])
    disperser = SimpleDisperser(wavelength=wl * u.AA, R=1200.0, name="grism")
    return (wl - half) * u.AA, (wl + half) * u.AA, disperser


def configuration(name: str):
    """The study's ``Configuration``: 'tutorial' (Ha, [NII], [SII], shared narrow redshift and
    FWHM, Linear continuum) or 'broad' (narrow Ha and [NII] plus a broad Ha with its own
    redshift and FWHM)."""
    from unite_stan import continuum, line
    from unite_stan.config import Configuration
    from unite_stan.prior import Uniform

    z = line.Redshift("narrow")
    fwhm = line.FWHM("narrow")
    lc = line.LineConfiguration()
    kw = {"profile": "Gaussian", "redshift": z, "fwhm_gauss": fwhm}
    lc.add_line("Ha", 6563.0 * u.AA, flux=line.Flux(), **kw)
    lc.add_lines(
        "NII", np.array([6549.0, 6585.0]) * u.AA, strength=[1.0, 3.0], flux=line.Flux(), **kw
    )
    if name == "tutorial":
        lc.add_lines(
            "SII", np.array([6717.0, 6731.0]) * u.AA, strength=[1.0, 1.5], flux=line.Flux(), **kw
        )
    elif name == "broad":
        lc.add_line(
            "Ha_broad",
            6563.0 * u.AA,
            profile="Gaussian",
            redshift=line.Redshift("broad"),
            fwhm_gauss=line.FWHM("broad", prior=Uniform(fwhm, BROAD_FWHM_HIGH)),
            flux=line.Flux(),
        )
    else:
        raise ValueError(f"config={name!r}: valid configurations are 'tutorial', 'broad'")
    auto = continuum.ContinuumConfiguration.from_lines(
        lc.centers, width=15_000 * u.km / u.s, form=continuum.Linear()
    )
    regions = [
        continuum.ContinuumRegion(
            r.low * r.unit,
            r.high * r.unit,
            form=continuum.Linear(),
            params={"angle": continuum.ContShape(prior=Uniform(*ANGLE_PRIOR))},
        )
        for r in auto
    ]
    return Configuration(lc, continuum.ContinuumConfiguration(regions))


def reference_scales():
    """``line_scale`` and ``continuum_scale`` of the tutorial's spectrum (tests/conftest.py)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import tutorial_fit1

    spectra, _, _ = tutorial_fit1()
    return spectra.line_scale, spectra.continuum_scale


def simulator(config, line_scale, continuum_scale):
    """(args, spectrum maker): the model's ``ModelArgs`` on the study's grid, and
    ``make(fluxes)`` giving a ``FixedScaleSpectra`` with those fitted-pixel fluxes."""
    from unite_stan import spectrum
    from unite_stan.model import ModelBuilder

    low, high, disperser = grid()
    error = np.full(low.size, ERROR) * FLUX_UNIT

    def make(flux=None):
        flux = np.zeros(low.size) if flux is None else flux
        spec = spectrum.from_edges(
            low, high, np.asarray(flux) * FLUX_UNIT, error, disperser, name="grism"
        )
        spectra = FixedScaleSpectra([spec], redshift=0.0)
        spectra.line_scale = line_scale
        spectra.continuum_scale = continuum_scale
        return spectra

    template = make()
    lines, cont = template.prepare(config.lines, config.continuum)
    _, args = ModelBuilder(lines, cont, template).build()
    (fitted,) = args.spectra
    # the fitted pixels' places on the full grid, by their centres
    centres = 0.5 * (low + high).to_value(u.AA)
    pixels = np.searchsorted(centres, np.asarray(fitted.wavelength, dtype=float) - 1e-6)
    if not np.allclose(centres[pixels], fitted.wavelength, rtol=0, atol=1e-6):
        raise RuntimeError("the fitted pixels are not pixels of the grid")

    def make_from(fluxes):
        (values,) = fluxes
        full = np.zeros(low.size)  # pixels outside the fit are dropped by prepare
        full[pixels] = values
        return make(full)

    return args, make_from


def fit_one(config, spectra, seed: int, **fit_kwargs):
    """Fit one simulated ``Spectra`` as ``fit_many`` does (prepare, scales, ``fit``), in this
    process; returns ``(samples, args)``. The study's follow-ups use it."""
    from unite_stan.model import ModelBuilder

    lines, cont = spectra.prepare(config.lines, config.continuum)
    spectra.compute_scales(lines, cont, **SCALES)
    return ModelBuilder(lines, cont, spectra).fit(seed=seed, progress_bar=False, **fit_kwargs)


def physical(args) -> dict[str, tuple[float, str]]:
    """Site -> (factor, unit) of the parameter table."""
    from unite_stan.results import _site_units

    return {
        name: (factor, "" if unit is None else unit.to_string())
        for name, (factor, unit) in _site_units(args).items()
    }


def simulate(config, n: int, seed: int):
    """The model's args, the truths (sampled units), the simulated fluxes of the fitted pixels
    and the source for ``fit_many``."""
    line_scale, continuum_scale = reference_scales()
    args, make = simulator(config, line_scale, continuum_scale)
    truths, fluxes, source = {}, {}, []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        values = calibration.draw_prior(args, rng)
        oid = f"sim{i:04d}"
        fluxes[oid] = calibration.simulate_fluxes(args, values, rng)
        truths[oid] = values
        source.append((oid, make(fluxes[oid]), None))
    return args, truths, fluxes, source


def posterior(path: Path, names: list[str]) -> dict[str, np.ndarray]:
    import xarray as xr

    with xr.open_dataset(path, group="posterior", engine="h5netcdf") as ds:
        # chain-major, as ModelBuilder.fit's samples
        return {n: np.asarray(ds[n].values, dtype=float).reshape(-1) for n in names}


def chi2_per_pixel(args, values, fluxes) -> float:
    """chi^2 per fitted pixel of the simulated fluxes against the model at ``values``."""
    from unite_stan.compute import evaluate_model

    (prediction,) = evaluate_model({n: np.array([values[n]]) for n in args.free_sites}, args)
    (flux,) = fluxes
    return float(np.mean(((flux - prediction.total[0]) / prediction.scaled_error) ** 2))


def analyse(args, truths, fluxes, result, out: Path) -> dict:
    free = list(args.free_sites)
    units = physical(args)
    ranks = {n: [] for n in free}
    covers = {(n, q): [] for n in free for q in LEVELS}
    objects = []
    for oid, truth in truths.items():
        record = result.statuses[oid]
        row = {"id": oid, "status": record["status"]}
        row["truth"] = {n: truth[n] * units[n][0] for n in free}
        if record["status"] == "failed":
            row["error"] = record.get("error", "")
            objects.append(row)
            continue
        row.update(record["diagnostics"])
        draws = posterior(out / f"{oid}.nc", free)
        median = {n: float(np.median(draws[n])) for n in free}
        row["chi2_per_pixel_median"] = chi2_per_pixel(args, median, fluxes[oid])
        row["chi2_per_pixel_truth"] = chi2_per_pixel(args, truth, fluxes[oid])
        row["rank"] = {}
        for n in free:
            r = calibration.sbc_rank(draws[n], truth[n], N_RANKS)
            ranks[n].append(r)
            row["rank"][n] = r
            for q in LEVELS:
                covers[(n, q)].append(calibration.interval_covers(draws[n], truth[n], q))
        objects.append(row)
    # the batch's status 'misfit': no chain's median model describes the data (every chain in a
    # wrong mode: R-hat cannot see it); chi2 per pixel of a good fit is 1 +- 0.07 here
    misfit = [o["status"] == "misfit" for o in objects if "rank" in o]
    fitted = sum(o["status"] != "failed" for o in objects)
    parameters = {}
    for n in free:
        entry = {"unit": units[n][1], "prior": repr(args.prior_graph.priors[n])}
        for q in LEVELS:
            hits = covers[(n, q)]
            frac = float(np.mean(hits)) if hits else float("nan")
            lo, hi = calibration.coverage_band(q, max(len(hits), 1))
            entry[f"coverage_{int(q * 100)}"] = frac
            entry[f"band_{int(q * 100)}"] = [lo, hi]
            entry[f"pass_{int(q * 100)}"] = bool(lo <= frac <= hi)
            kept = [h for h, m in zip(hits, misfit, strict=True) if not m]
            entry[f"coverage_{int(q * 100)}_without_misfits"] = (
                float(np.mean(kept)) if kept else float("nan")
            )
        counts, p = calibration.uniformity_pvalue(ranks[n], N_RANKS, N_BINS)
        entry["rank_counts"] = counts.tolist()
        entry["uniformity_p"] = p
        parameters[n] = entry
    summary = {
        "fitted": fitted,
        "failed": len(objects) - fitted,
        "poor_convergence": sum(o["status"] == "poor_convergence" for o in objects),
        "with_divergences": sum(o.get("divergences", 0) > 0 for o in objects),
        "misfits": [o["id"] for o in objects if o["status"] == "misfit"],
        "rhat_max": max((o.get("rhat_max", 0.0) for o in objects), default=float("nan")),
        "parameters": parameters,
        "objects": objects,
    }
    return add_familywise(summary)


def add_familywise(summary: dict) -> dict:
    """Add the family-wise tests of the study's checks (all fits, and the fits with status
    ``ok``) and the coverage of the ``ok`` fits from their ranks; returns ``summary``.

    All fits: the checks are the table's (coverage of the draws' quantile intervals). The ``ok``
    fits: coverage from the ranks (:func:`unite_stan.calibration.rank_coverage`). Selecting fits
    by what their data and chains gave (the status) keeps a calibrated posterior calibrated:
    its coverage is nominal given any event of the data, so the ``ok`` fits must pass too."""
    params = summary["parameters"]
    names = list(params)
    fitted = [o for o in summary["objects"] if "rank" in o]
    ok = [o for o in fitted if o["status"] == "ok"]
    for name, entry in params.items():
        for q in LEVELS:
            ranks = [o["rank"][name] for o in ok]
            entry[f"coverage_{int(q * 100)}_ok_ranks"] = (
                calibration.rank_coverage(ranks, q, N_RANKS) if ranks else float("nan")
            )
    tests = {}
    for label, group, key in (("all", fitted, "coverage_{}"), ("ok", ok, "coverage_{}_ok_ranks")):
        if len(group) < 2:
            continue
        tests[label] = calibration.familywise_coverage_test(
            {n: [o["rank"][n] for o in group] for n in names},
            {n: {q: params[n][key.format(int(q * 100))] for q in LEVELS} for n in names},
            n_ranks=N_RANKS,
        )
    summary["familywise"] = tests
    return summary


def familywise_lines(summary: dict) -> list[str]:
    """The family-wise tests as sentences for the report's head."""
    out = []
    for label, t in summary.get("familywise", {}).items():
        which = "All fits" if label == "all" else "Fits with status `ok` (coverage from ranks)"
        outside = ", ".join(f"{n} {int(round(q * 100))} % (z {z:+.2f})" for n, q, z in t["outside"])
        out.append(
            f"{which}, {t['fits']}: {len(t['outside'])} of {t['checks']} checks outside 2 sigma"
            f"{': ' + outside if outside else ''} (a calibrated method with these fits' "
            f"dependence between parameters: {t['expected_outside']:.2f} on average, "
            f"P(>= {len(t['outside'])}) = {t['p_outside']:.3f}); largest |z| "
            f"{t['max_abs_z']:.2f}, family-wise p = {t['p_max_z']:.3f} "
            f"(`calibration.familywise_coverage_test`, {t['n_boot']} resampled studies)."
        )
    return out


def figure(name: str, summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    params = summary["parameters"]
    ncol = 4
    nrow = -(-len(params) // ncol)
    fig, axes = pyplot.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.6 * nrow), squeeze=False)
    n = summary["fitted"]
    lo, hi = calibration.rank_band(n, N_BINS, 0.99)
    edges = np.linspace(0, N_RANKS + 1, N_BINS + 1)
    for ax, (pname, entry) in zip(axes.flat, params.items(), strict=False):
        ax.axhspan(lo, hi, color="0.85", lw=0)
        ax.axhline(n / N_BINS, color="0.5", lw=0.8)
        ax.stairs(entry["rank_counts"], edges, color="C0", lw=1.5)
        ax.set_title(
            f"{pname}\n68%: {entry['coverage_68']:.3f}  95%: {entry['coverage_95']:.3f}  "
            f"p={entry['uniformity_p']:.2f}",
            fontsize=8,
        )
        ax.set_xlim(0, N_RANKS + 1)
        ax.set_xlabel(f"rank of truth among {N_RANKS} draws", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(params) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"SBC rank histograms, {name} configuration ({n} fits; grey: binomial 99 % band)",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    pyplot.close(fig)


def table(summary: dict) -> list[str]:
    lines = [
        "| parameter | unit | 68 % coverage [2 sigma band] | 95 % coverage [2 sigma band] | 68 % "
        "| 95 % | SBC p-value | 68 % / 95 % without misfits | 68 % / 95 % of `ok` fits (ranks) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for pname, e in summary["parameters"].items():
        verdict = {True: "PASS", False: "FAIL"}
        lines.append(
            f"| {pname} | {e['unit']} | {e['coverage_68']:.3f} "
            f"[{e['band_68'][0]:.3f}, {e['band_68'][1]:.3f}] | {e['coverage_95']:.3f} "
            f"[{e['band_95'][0]:.3f}, {e['band_95'][1]:.3f}] | {verdict[e['pass_68']]} | "
            f"{verdict[e['pass_95']]} | {e['uniformity_p']:.3f} | "
            f"{e['coverage_68_without_misfits']:.3f} / {e['coverage_95_without_misfits']:.3f} | "
            f"{e.get('coverage_68_ok_ranks', float('nan')):.3f} / "
            f"{e.get('coverage_95_ok_ranks', float('nan')):.3f} |"
        )
    return lines


def pooled(summaries: list[dict]) -> dict:
    """The coverage and rank histograms of several independent studies of one configuration
    (different seeds) together: fractions weighted by each study's fitted objects, bands and
    the uniformity test for the total."""
    from scipy.stats import chi2

    total = sum(s["fitted"] for s in summaries)
    parameters = {}
    for name, first in summaries[0]["parameters"].items():
        entry = {"unit": first["unit"], "prior": first["prior"]}
        for q in LEVELS:
            key = int(q * 100)
            for suffix in ("", "_without_misfits"):
                entry[f"coverage_{key}{suffix}"] = (
                    sum(s["parameters"][name][f"coverage_{key}{suffix}"] * s["fitted"]
                        for s in summaries) / total
                )  # fmt: skip
            lo, hi = calibration.coverage_band(q, total)
            entry[f"band_{key}"] = [lo, hi]
            entry[f"pass_{key}"] = bool(lo <= entry[f"coverage_{key}"] <= hi)
        counts = np.sum([s["parameters"][name]["rank_counts"] for s in summaries], axis=0)
        expected = counts.sum() / counts.size
        statistic = float(np.sum((counts - expected) ** 2 / expected))
        entry["rank_counts"] = counts.tolist()
        entry["uniformity_p"] = float(chi2.sf(statistic, counts.size - 1))
        parameters[name] = entry
    objects = [o for s in summaries for o in s["objects"]]
    return add_familywise({"fitted": total, "parameters": parameters, "objects": objects})


def study_head(summary: dict) -> list[str]:
    """The head of one study's report: what was fitted, how, and the family-wise tests."""
    n = summary["n"]
    return [
        f"Configuration `{summary['config']}`: {summary['fitted']} fitted of {n} "
        f"({summary['failed']} failed, {summary['poor_convergence']} poor convergence, "
        f"{summary['with_divergences']} with divergences, {len(summary['misfits'])} misfit "
        f"(status misfit, no chain's median model fits the data: {summary['misfits']}), max R-hat "
        f"{summary['rhat_max']:.3f}); this run fitted {n - summary['resumed']} in "
        f"{summary['seconds']:.0f} s with {summary['workers']} worker(s), "
        f"load {' '.join(summary['load_before'])} -> {' '.join(summary['load_after'])}, "
        f"{summary['date']}.",
        "",
        *familywise_lines(summary),
        "",
    ]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=("tutorial", "broad"), default="tutorial")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2018)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument(
        "--pool", nargs="+", type=Path, metavar="JSON",
        help="pool the results of independent studies (e.g. two seeds) of one configuration "
        "and print their table; fits nothing",
    )  # fmt: skip
    parser.add_argument(
        "--pool-name", default=None, metavar="STEM",
        help="with --pool: write benchmarks/results/STEM.md (default: the first study's name "
        "without its seed, plus _pooled)",
    )  # fmt: skip
    parser.add_argument(
        "--report", nargs="+", type=Path, metavar="JSON",
        help="recompute the family-wise tests of finished studies and rewrite their JSON and "
        "markdown reports; fits nothing",
    )  # fmt: skip
    opts = parser.parse_args(argv)
    if opts.report:
        for path in opts.report:
            summary = add_familywise(json.loads(path.read_text()))
            path.write_text(json.dumps(summary, indent=1) + "\n")
            text = "\n".join(study_head(summary) + table(summary)) + "\n"
            path.with_suffix(".md").write_text(text)
            print(text)
        return
    if opts.pool:
        summaries = [json.loads(path.read_text()) for path in opts.pool]
        configs = {s["config"] for s in summaries}
        if len(configs) != 1:
            parser.error(f"--pool: the studies are of different configurations {sorted(configs)}")
        summary = pooled(summaries)
        checks = 2 * len(summary["parameters"])
        head = [
            f"Configuration `{configs.pop()}`, pooled: {summary['fitted']} fits from "
            + ", ".join(f"seed {s['seed']} ({s['fitted']} fits)" for s in summaries)
            + f"; {checks} interval checks, of which a calibrated method fails "
            f"{checks * 0.0455:.1f} on average at 2 sigma.",
            "",
            *familywise_lines(summary),
            "",
        ]
        text = "\n".join(head + table(summary)) + "\n"
        stem = opts.pool_name or Path(opts.pool[0]).stem.split("_seed")[0] + "_pooled"
        (HERE / "results" / f"{stem}.md").write_text(text)
        print(text)
        return
    from unite_stan.batch import fit_many

    out = opts.output or HERE / "results" / "coverage_runs" / (
        opts.config + ("" if opts.seed == 2018 else f"_seed{opts.seed}")
    )
    config = configuration(opts.config)
    args, truths, fluxes, source = simulate(config, opts.n, opts.seed)
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    start = time.perf_counter()
    kw = dict(output_dir=out, seed=opts.seed, scale_kwargs=SCALES, progress=False, **DRAWS)
    if opts.workers > 1:
        with ProcessPoolExecutor(max_workers=opts.workers) as pool:
            result = fit_many(config, source, executor=pool, **kw)
    else:
        result = fit_many(config, source, **kw)
    seconds = time.perf_counter() - start
    load_after = Path("/proc/loadavg").read_text().split()[:3]
    summary = analyse(args, truths, fluxes, result, Path(out))
    # every invocation on this output directory, so that a resumed study keeps its fit time
    log = Path(out) / "coverage_invocations.json"
    invocations = json.loads(log.read_text()) if log.exists() else []
    invocations.append(
        {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "workers": opts.workers,
            "fitted": opts.n - len(result.skipped),
            "seconds": round(seconds, 1),
            "load_before": load_before,
            "load_after": load_after,
        }
    )
    log.write_text(json.dumps(invocations, indent=1) + "\n")
    summary.update(
        invocations=invocations,
        config=opts.config,
        n=opts.n,
        seed=opts.seed,
        workers=opts.workers,
        settings=result.settings,
        resumed=len(result.skipped),
        compiled=len(result.compiled),
        seconds=round(seconds, 1),
        load_before=load_before,
        load_after=load_after,
        date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        n_ranks=N_RANKS,
        n_bins=N_BINS,
        command=" ".join(["python", "benchmarks/coverage.py", *(argv or sys.argv[1:])]),
    )
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    # the default study keeps the plain names; other sizes and seeds get their own files
    stem = (
        f"coverage_{opts.config}"
        + ("" if opts.n == 200 else f"_n{opts.n}")
        + ("" if opts.seed == 2018 else f"_seed{opts.seed}")
    )
    (results / f"{stem}.json").write_text(json.dumps(summary, indent=1) + "\n")
    figure(opts.config, summary, ROOT / "docs" / "figures" / f"{stem}.png")
    text = "\n".join(study_head(summary) + table(summary)) + "\n"
    (results / f"{stem}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
