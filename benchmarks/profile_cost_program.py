"""Gradient cost of each line profile per pixel edge inside a fitted program (issue #13 item 9).

``profile_cost.py`` times each profile's Stan chunk alone (the contract test's program); this
script times it where a fit runs it: in the program ``ModelBuilder`` renders for one line of
every registered profile (unite's default priors, R = 3000, a linear continuum) on one
spectrum of ``--edges`` pixel edges. The line windows are data, so one compiled program gives
every profile's cost: all windows empty (the baseline: priors, continuum, likelihood), then one
line's window at a time (the edges within 30 A of its centre). A profile's cost per edge is its
gradient time minus the baseline's, over the number of edges; the ratio to the Gaussian's is
what item 9 bounds (<= 3). The configurations are timed in turns (each repeat times every
one once), so that drifts of the machine's speed fall on the baseline and the profiles alike.

Both program texts are measured on one thread and one block per spectrum: the one that runs
(``program.code``: ``reduce_sum_static`` over the blocks, its likelihood a struct-of-arrays
function) and the serial reference text (``program.serial_code``: the likelihood's one call,
which stanc inlines into the model class). Prints the load average beside the figures and writes
``benchmarks/results/profile_cost_program.{json,md}``.

    python benchmarks/profile_cost_program.py --edges 4000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import astropy.units as u
import numpy as np

from unite_stan import line, spectrum
from unite_stan.continuum import ContinuumConfiguration, ContinuumRegion, Linear
from unite_stan.instrument.generic import SimpleDisperser
from unite_stan.line.library import PROFILES
from unite_stan.model import ModelBuilder
from unite_stan.stan.backends import embedded, get_backend
from unite_stan.stan.render import Layout
from unite_stan.stan.run import unconstrain

RESULTS = Path(__file__).resolve().parent / "results"
FLAM = u.erg / u.s / u.cm**2 / u.AA
C_KMS = 299792.458

#: slot values of each profile's line (FWHMs in km/s), inside unite's default priors
VALUES = {
    "fwhm_gauss": 300.0,
    "fwhm_lorentz": 200.0,
    "fwhm_exp": 250.0,
    "fwhm_blue": 250.0,
    "fwhm_red": 400.0,
    "fwhm_box": 400.0,
    "fwhm_l_blue": 200.0,
    "fwhm_l_red": 350.0,
    "h3": 0.1,
    "h4": 0.05,
    "alpha": 2.0,
}


def build(n_edges: int, profiles=PROFILES):
    """The builder, the rendered program and the point (site -> value) for one line of each
    of ``profiles`` (default: every registered profile)."""
    centres = 6500.0 + 60.0 * np.arange(len(profiles))
    lo, hi = centres[0] - 40.0, centres[-1] + 40.0
    edges = np.linspace(lo, hi, n_edges)
    mid = 0.5 * (edges[1:] + edges[:-1])
    disperser = SimpleDisperser(wavelength=mid * u.AA, R=3000.0, name="grating")
    rng = np.random.default_rng(1)
    spec = spectrum.from_edges(
        edges[:-1] * u.AA,
        edges[1:] * u.AA,
        (1.0 + 0.1 * rng.standard_normal(mid.size)) * 1e-17 * FLAM,
        np.full(mid.size, 0.1e-17) * FLAM,
        disperser,
        name="grating",
    )
    lc = line.LineConfiguration()
    point = {}
    for cls, c in zip(profiles, centres, strict=True):
        name = cls.__name__
        lc.add_line(name, c * u.AA, profile=name, redshift=line.Redshift(name))
    cont = ContinuumConfiguration([ContinuumRegion(lo * u.AA, hi * u.AA, Linear(), name="c")])
    spectra = spectrum.Spectra([spec], redshift=0.0)
    spectra.compute_scales(lc, cont)
    builder = ModelBuilder(lc, cont, spectra)
    program, args = builder.build()
    graph = args.prior_graph
    for site in graph.free_sites:
        slot = next((s for s in sorted(VALUES, key=len, reverse=True) if site.startswith(s)), None)
        if slot is not None:
            point[site] = VALUES[slot]
        else:  # redshifts, fluxes, continuum: the middle of the (numeric) prior bounds
            pr = graph.priors[site]
            point[site] = 0.5 * (pr.low.value + pr.high.value)
    # each line's window: the edges within 30 A of its centre (1-based first edge, count)
    first = np.searchsorted(edges, centres - 30.0) + 1
    count = np.searchsorted(edges, centres + 30.0) + 1 - first
    return builder, program, args, point, (first, count)


def timed(densities: dict, x, calls: int, repeats: int) -> dict:
    """Best time per call of each density, measured in turns (each repeat times every density
    once, one after the other) so that drifts of the machine's speed fall on all alike."""
    best = dict.fromkeys(densities, np.inf)
    for _ in range(repeats):
        for key, density in densities.items():
            start = time.perf_counter()
            for _ in range(calls):
                density(x)
            best[key] = min(best[key], (time.perf_counter() - start) / calls)
    return best


def measure(backend, program, code, args, point, windows, calls, repeats, profiles=PROFILES):
    blocks = 1
    laid = program.laid_out(Layout(blocks=(blocks,)))
    model = backend.compile(code, progress=True)
    x = unconstrain(args, point)
    n_line = laid.data["line_win_start"].shape[1]
    densities = {}
    for which in [None, *range(n_line)]:
        start = windows[0][None, :].astype(int)
        length = np.zeros((1, n_line), dtype=int)
        if which is not None:
            length[0, which] = windows[1][which]
        data = laid.laid_out(Layout(blocks=(blocks,), windows=(start, length))).data
        densities[which] = backend.log_density(model, data)
    times = densities[None].run_threaded(1, lambda: timed(densities, x, calls, repeats))
    base = times[None]
    rows = {}
    for j, cls in enumerate(profiles):
        rows[cls.__name__] = 1e9 * (times[j] - base) / windows[1][j]
    return 1e6 * base, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=4000)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument(
        "--texts", choices=["both", "code"], default="both",
        help="'code': only the program that runs (not the serial reference)",
    )  # fmt: skip
    parser.add_argument(
        "--profiles", nargs="+", metavar="NAME",
        help="only these profiles (the Gaussian is always measured, as the reference)",
    )  # fmt: skip
    opts = parser.parse_args()
    profiles = PROFILES
    if opts.profiles:
        by_name = {cls.__name__: cls for cls in PROFILES}
        unknown = sorted(set(opts.profiles) - set(by_name))
        if unknown:
            parser.error(f"unknown profiles {unknown}; registered: {sorted(by_name)}")
        profiles = [by_name["Gaussian"]] + [by_name[p] for p in opts.profiles if p != "Gaussian"]
    # stanc --O1 on a program with every profile takes minutes on a loaded machine
    # (docs/performance.md): give it more time than fits allow by default
    embedded.STANC_TIMEOUT = max(embedded.STANC_TIMEOUT, 1800.0)
    backend = get_backend("embedded")
    _, program, args, point, windows = build(opts.edges, profiles)
    n_edges = int(np.median(windows[1]))
    load_before = os.getloadavg()
    out = {"edges": n_edges, "calls": opts.calls, "repeats": opts.repeats, "layouts": {}}
    texts = (
        ("program.code (runs)", program.code),
        ("serial_code (reference)", program.serial_code),
    )
    for label, code in texts[: 1 if opts.texts == "code" else 2]:
        base_us, rows = measure(
            backend, program, code, args, point, windows, opts.calls, opts.repeats, profiles
        )
        gauss = rows["Gaussian"]
        out["layouts"][label] = {
            "baseline_us": round(base_us, 2),
            "ns_per_edge": {k: round(v, 1) for k, v in rows.items()},
            "vs_gaussian": {k: round(v / gauss, 2) for k, v in rows.items()},
        }
    out["load_average"] = {"before": load_before, "after": os.getloadavg()}
    out["machine"] = f"{platform.machine()}, {os.cpu_count()} cores"
    if opts.profiles:  # a partial run: printed, the results files keep the full table
        print(json.dumps(out, indent=1))
        return
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "profile_cost_program.json").write_text(json.dumps(out, indent=1) + "\n")
    lines = [
        "# Gradient cost per pixel edge of each profile inside a fitted program",
        "",
        f"`python benchmarks/profile_cost_program.py --edges {opts.edges}`: one line of each "
        f"profile, {n_edges} edges per line window (median), best of {opts.repeats} x {opts.calls} "
        f"gradient evaluations; load average before {load_before[0]:.2f}, after "
        f"{out['load_average']['after'][0]:.2f} ({out['machine']}).",
        "",
        "| profile | " + " | ".join(f"{k}: ns/edge (x Gaussian)" for k in out["layouts"]) + " |",
        "|---|" + "---|" * len(out["layouts"]),
    ]
    for cls in profiles:
        name = cls.__name__
        cells = [
            f"{lay['ns_per_edge'][name]:.1f} ({lay['vs_gaussian'][name]:.2f}x)"
            for lay in out["layouts"].values()
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    (RESULTS / "profile_cost_program.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
