"""Parity of absorption with unite: absorber columns, od_* columns, the total and REWs.

For every line profile unite_stan registers, one configuration is built in both packages with
every parameter Fixed: an emission Gaussian (Ha, 6563 A, 300 km/s) on a Linear continuum,
an absorber of that profile at 6590 A (peak tau 1.5, its slots at the values of
``parity_components.PROFILE_VALUES``) and a second, Gaussian absorber on top of Ha (tau 0.7,
100 km/s). Every line, absorber and zorder default (all absorbers attenuate everything).
``results.make_spectra_tables({}, args)`` and ``results.make_parameter_table({}, args)`` of
the built model give the one-draw columns in both packages (no fit, no Stan compile); unite
runs from its own venv in float64 (its default analytic mode).

    python benchmarks/parity_absorption.py
    python benchmarks/parity_absorption.py --unite-python /opt/unite-venv/bin/python
    python benchmarks/parity_absorption.py --mode convolution

In convolution mode unite evaluates each component at the fine cells' centres and unite_stan
averages it over each cell (docs/differences.md): the columns differ by about
``f'' h^2 / 24`` (h = pixel / n_super), 1e-5 of a line's peak here.

Results go to ``benchmarks/results/parity_absorption.md`` (largest relative difference over
the pixels where unite's column exceeds 1e-6 of its peak; REWs relative).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import astropy.units as u
import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import scenarios  # noqa: E402

FLAM = u.erg / u.s / u.cm**2 / u.AA
EDGES = np.linspace(6400.0, 6800.0, 801)
RESOLUTION = 3000.0
FLOOR = 1e-6


def evaluate(api, profile: str, mode: str = "analytic") -> dict:
    from parity_components import PROFILE_VALUES

    p = api.prior
    lo, hi = EDGES[:-1], EDGES[1:]
    mid = 0.5 * (lo + hi)
    flux = 1 + 0.1 * np.sin(mid)
    disperser = api.SimpleDisperser(wavelength=mid * u.AA, R=RESOLUTION, name="g")
    spec = api.spectrum.from_edges(
        lo * u.AA, hi * u.AA, flux * 1e-17 * FLAM, np.full(mid.size, 1e-18) * FLAM, disperser,
        name="g",
    )  # fmt: skip
    lc = api.line.LineConfiguration()
    z = api.line.Redshift(prior=p.Fixed(3e-4))
    lc.add_line(
        "Ha", 6563 * u.AA, redshift=z, flux=api.line.Flux(prior=p.Fixed(2.0)),
        fwhm_gauss=api.line.FWHM(prior=p.Fixed(300.0)),
    )  # fmt: skip
    slots = {
        slot: (api.line.FWHM if slot.startswith("fwhm") else api.line.LineShape)(
            prior=p.Fixed(float(v))
        )
        for slot, v in PROFILE_VALUES[profile].items()
    }
    lc.add_line(
        "A", 6590 * u.AA, profile=getattr(api.line, profile)(),
        redshift=api.line.Redshift(prior=p.Fixed(1e-4)), tau=api.line.Tau(prior=p.Fixed(1.5)),
        **slots,
    )  # fmt: skip
    lc.add_line(
        "B", 6563 * u.AA, redshift=z, tau=api.line.Tau(prior=p.Fixed(0.7)),
        fwhm_gauss=api.line.FWHM(prior=p.Fixed(100.0)),
    )  # fmt: skip
    params = {
        "scale": api.continuum.Scale(prior=p.Fixed(1.0)),
        "angle": api.continuum.ContShape(prior=p.Fixed(0.001)),
        "norm_wav": api.continuum.NormWavelength(prior=p.Fixed(6590.0)),
    }
    region = api.continuum.ContinuumRegion(
        6420 * u.AA, 6780 * u.AA, form=api.continuum.Linear(), params=params
    )
    cc = api.continuum.ContinuumConfiguration([region])
    spectra = api.spectrum.Spectra([spec], redshift=0.0)
    flc, fcc = spectra.prepare(lc, cc)
    spectra.line_scale = 1e-15 * u.erg / u.s / u.cm**2
    spectra.continuum_scale = 1e-17 * FLAM
    _, args = api.model.ModelBuilder(flc, fcc, spectra).build(integration_mode=mode)
    (table,) = api.results.make_spectra_tables({}, args).values()
    columns = {c: np.asarray(table[c].value, float).ravel().tolist() for c in table.colnames}
    params = api.results.make_parameter_table({}, args)
    rews = {c: float(np.ravel(params[c].value)[0]) for c in params.colnames if c.startswith("rew")}
    return {"columns": columns, "rews": rews}


def worker(stack: str, out: str, mode: str) -> None:
    if stack == "unite":
        import jax

        jax.config.update("jax_enable_x64", True)
    api = scenarios.api_of(stack)
    from parity_components import PROFILE_VALUES

    results = {}
    for profile in PROFILE_VALUES:
        if not hasattr(api.line, profile):
            continue
        try:
            results[profile] = evaluate(api, profile, mode)
        except Exception as exc:  # recorded, the others go on
            results[profile] = {"error": f"{type(exc).__name__}: {exc}"}
    Path(out).write_text(json.dumps(results))


def compare(stan: dict, unite: dict) -> dict:
    out = {}
    for name, theirs in unite["columns"].items():
        if name not in stan["columns"]:
            out[name] = "missing"
            continue
        x, y = np.asarray(theirs), np.asarray(stan["columns"][name])
        keep = np.abs(x) > FLOOR * np.abs(x).max() if np.abs(x).max() > 0 else x != 0
        out[name] = float(np.max(np.abs(y - x)[keep] / np.abs(x)[keep])) if keep.any() else 0.0
    for name, theirs in unite["rews"].items():
        mine = stan["rews"].get(name)
        out[name] = "missing" if mine is None else abs(mine - theirs) / abs(theirs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--unite-python", default=os.environ.get("UNITE_PYTHON", "/opt/unite-venv/bin/python")
    )
    parser.add_argument("--mode", choices=("analytic", "convolution"), default="analytic")
    parser.add_argument("--stack", choices=("unite", "unite_stan"), help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.stack:
        worker(opts.stack, opts.result, opts.mode)
        return
    outputs = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        plain = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        for stack, python in (("unite_stan", sys.executable), ("unite", opts.unite_python)):
            result = Path(tmp) / f"{stack}.json"
            subprocess.run(
                [python, __file__, "--stack", stack, "--result", str(result), "--mode", opts.mode],
                env=env if stack == "unite_stan" else plain,
                check=True,
                cwd=HERE,
            )
            outputs[stack] = json.loads(result.read_text())
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
    ).stdout.strip()
    lines = [
        f"# Absorption parity with unite 3.5.2 ({opts.mode} mode)",
        "",
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, unite_stan {commit}; "
        f"`python benchmarks/parity_absorption.py --mode {opts.mode}`. Largest relative "
        "difference over pixels where unite's column exceeds 1e-6 of its peak (REWs: "
        "relative). A: the absorber of the row's profile (tau 1.5 at 6590 A); B: a "
        "Gaussian absorber on Ha (tau 0.7).",
        "",
        "| absorber profile | model_total | Ha | A | B | od_A | od_B | rew_Ha | rew_A | rew_B |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    keys = ["model_total", "Ha", "A", "B", "od_A", "od_B", "rew_Ha", "rew_A", "rew_B"]
    worst = 0.0
    for profile, theirs in outputs["unite"].items():
        mine = outputs["unite_stan"].get(profile, {"error": "not in unite_stan"})
        if "error" in theirs or "error" in mine:
            lines.append(
                f"| {profile} | {theirs.get('error', '')} {mine.get('error', '')} |"
                + " |" * (len(keys) - 1)
            )
            continue
        diff = compare(mine, theirs)
        cells = []
        for k in keys:
            v = diff.get(k, "–")
            cells.append(f"{v:.1e}" if isinstance(v, float) else str(v))
            if isinstance(v, float):
                worst = max(worst, v)
        lines.append(f"| {profile} | " + " | ".join(cells) + " |")
    lines += ["", f"Largest difference: {worst:.1e}."]
    if opts.mode == "convolution":
        lines += [
            "",
            "nan: unite's column is NaN (a profile whose Gaussian width is 0, Laplace and "
            "Cauchy, in convolution mode: unite_api.md §3.15); unite_stan's is finite, the LSF "
            "alone in the limit (tests/stan/test_convolution.py). The other differences are "
            "cell averages against unite's cell-centre values (f'' h^2 / 24), and for the "
            "pseudo-Voigt family Ida et al.'s cumulative against the exact Voigt density "
            "(within 1.5e-4 of the flux, relatively more in the far wings).",
        ]
    suffix = "" if opts.mode == "analytic" else f"_{opts.mode}"
    out = HERE / "results" / f"parity_absorption{suffix}.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
