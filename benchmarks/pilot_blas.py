"""The Laplace pilot with and without the one-BLAS-thread limit (unite_stan/_blas.py).

Fits the batch benchmark's spectra (tests/batch/_simulate.py: the tutorial's structure) and
reports the pilot stage's wall time per object, first with BLAS limited to one thread (what
fits do), then with the BLAS libraries' own thread count (what fits did before), and the time
scipy's L-BFGS-B takes on a 7-parameter quadratic both ways. Run it alone and beside a busy
process: the difference appears when the cores are taken, as in a batch where every core
runs a worker. ``--busy N`` starts N processes that spin on a core meanwhile.

    python benchmarks/pilot_blas.py --objects 6 --busy 1
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy.optimize

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "batch"))
import _simulate as sim  # noqa: E402

import unite_stan._blas  # noqa: E402
from unite_stan.model import ModelBuilder  # noqa: E402
from unite_stan.spectrum import Spectra  # noqa: E402


def lbfgs_seconds() -> float:
    a = np.diag(np.arange(1.0, 8.0))

    def f(x):
        return 0.5 * x @ a @ x + np.sum(np.cosh(0.1 * x)), a @ x + 0.1 * np.sinh(0.1 * x)

    start = time.perf_counter()
    for _ in range(5):
        scipy.optimize.minimize(f, np.full(7, 3.0), jac=True, method="L-BFGS-B")
    return (time.perf_counter() - start) / 5


def pilot_seconds(objects: int) -> list[float]:
    cfg = sim.configuration()
    out = []
    for i in range(objects):
        spectra = sim.spectrum(i)
        spectra = spectra if isinstance(spectra, Spectra) else Spectra([spectra], redshift=0.0)
        lines, cont = spectra.prepare(cfg.lines, cfg.continuum)
        spectra.compute_scales(lines, cont, **sim.SCALES)
        _, args = ModelBuilder(lines, cont, spectra).fit(
            seed=1, progress_bar=False, num_warmup=500, num_samples=1000, num_chains=2
        )
        out.append(float(args.dataset.attrs["pilot_seconds"]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=6)
    parser.add_argument("--busy", type=int, default=0, help="spinning processes meanwhile")
    opts = parser.parse_args()
    pilot_seconds(1)  # compile (cached) and warm up
    spin = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(opts.busy)]
    print(f"load average before: {os.getloadavg()}")
    limited = unite_stan._blas.one_blas_thread
    rows = []
    for label, limit in (("one BLAS thread", limited), ("BLAS threads as loaded", None)):
        unite_stan._blas.one_blas_thread = limited if limit else contextlib.nullcontext
        with limited() if limit else contextlib.nullcontext():
            lbfgs = lbfgs_seconds()
        pilots = pilot_seconds(opts.objects)
        rows.append((label, lbfgs, pilots))
    unite_stan._blas.one_blas_thread = limited
    for process in spin:
        process.kill()
    print(f"load average after: {os.getloadavg()} ({opts.busy} spinning processes)")
    print("| BLAS | L-BFGS-B, 7 parameters (ms) | pilot per object (s): median [min, max] |")
    print("|---|---|---|")
    for label, lbfgs, pilots in rows:
        print(
            f"| {label} | {1e3 * lbfgs:.2f} | {np.median(pilots):.3f} "
            f"[{min(pilots):.3f}, {max(pilots):.3f}] |"
        )


if __name__ == "__main__":
    main()
