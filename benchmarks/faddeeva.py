"""Cost of the Stan Faddeeva function against erf, per point, value and gradient.

    python benchmarks/faddeeva.py            # 10 000 points, 4 scenarios
    python benchmarks/faddeeva.py --points 2000

One program holds ``templates/special/faddeeva.stan``; its log density sums, ``--repeat``
times over the same points, one of: ``erf(x)`` (in the model block and inside a user function,
as the line templates call it), ``faddeeva_re(x, y)``, ``faddeeva_im(x, y)``, or Re w evaluated
by autodiff through the whole algorithm (what the chunk avoids). The cost of one point is the
best thread CPU time of one gradient evaluation, less that of a program summing only ``x`` and
``y``, divided by points x repeats. Scenarios: the core of a line (|x| < 5, log-uniform y), a
line whose damping y is shared by all pixels, a wider window (|x| < 40), and damping wings
(|x| < 1e4).

Writes ``benchmarks/results/faddeeva.{json,md}`` with the machine's load average.
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
sys.path.insert(0, str(HERE.parent))

from unite_stan._resources import template_dir  # noqa: E402
from unite_stan.stan.backends import get_backend  # noqa: E402

PROGRAM = """
functions {
%s

  vector bench_erf(vector x) {
    return erf(x);
  }

  // Re w with autodiff through the whole algorithm: faddeeva_taylor_ with parameters
  vector bench_autodiff(vector x, vector y) {
    vector[rows(x)] out;
    for (i in 1:rows(x)) {
      out[i] = faddeeva_taylor_(x[i], y[i]).1;
    }
    return out;
  }
}
data {
  int N;
  int which;
  int repeats;
}
parameters {
  vector[N] x;
  vector[N] y;
}
model {
  target += sum(x) + sum(y);
  for (k in 1:repeats) {
    if (which == 1) {
      target += sum(erf(x));
    } else if (which == 2) {
      target += sum(bench_erf(x));
    } else if (which == 3) {
      target += sum(faddeeva_re(x, y));
    } else if (which == 4) {
      target += sum(faddeeva_im(x, y));
    } else if (which == 5) {
      target += sum(bench_autodiff(x, y));
    }
  }
}
"""

KINDS = {
    1: "erf (model block)",
    2: "erf (function)",
    3: "faddeeva_re",
    4: "faddeeva_im",
    5: "Re w, autodiff through",
}


def scenarios(n: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    return {
        "line core: -5 < x < 5, y log-uniform in [1e-4, 1]": (
            rng.uniform(-5, 5, n),
            10 ** rng.uniform(-4, 0, n),
        ),
        "shared damping: -10 < x < 10, y = 0.01": (rng.uniform(-10, 10, n), np.full(n, 0.01)),
        "window: -40 < x < 40, y log-uniform in [1e-4, 10]": (
            rng.uniform(-40, 40, n),
            10 ** rng.uniform(-4, 1, n),
        ),
        "wings: -1e4 < x < 1e4, y log-uniform in [1e-4, 1]": (
            rng.uniform(-1e4, 1e4, n),
            10 ** rng.uniform(-4, 0, n),
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=10, help="sums per log density")
    parser.add_argument("--runs", type=int, default=15, help="gradients timed, the best kept")
    args = parser.parse_args()

    backend = get_backend("embedded")
    chunk = (template_dir() / "special" / "faddeeva.stan").read_text()
    model = backend.compile(PROGRAM % chunk, progress=True)
    rows = []
    for name, (x, y) in scenarios(args.points).items():
        theta = np.concatenate([x, y])
        densities = {
            which: backend.log_density(
                model, {"N": args.points, "which": which, "repeats": args.repeat}
            )
            for which in (0, *KINDS)
        }
        best = dict.fromkeys(densities, np.inf)
        for run in range(args.runs):
            for which, density in densities.items():
                if which == 5 and run >= 3:  # slow, and steady
                    continue
                start = time.thread_time()
                density(theta)
                best[which] = min(best[which], time.thread_time() - start)
        cost = {
            which: (best[which] - best[0]) / (args.points * args.repeat) * 1e9 for which in KINDS
        }
        rows.append({"scenario": name, **{KINDS[w]: round(c, 1) for w, c in cost.items()}})
        print(
            f"{name}: "
            + ", ".join(f"{KINDS[w]} {c:.0f} ns" for w, c in cost.items())
            + f"; faddeeva_re / erf (function) = {cost[3] / cost[2]:.1f}",
            flush=True,
        )

    results = HERE / "results"
    results.mkdir(exist_ok=True)
    load = os.getloadavg()
    (results / "faddeeva.json").write_text(
        json.dumps({"points": args.points, "load_average": load, "rows": rows}, indent=2) + "\n"
    )
    header = ["scenario", *KINDS.values(), "faddeeva_re / erf (function)"]
    lines = [
        "# Faddeeva function cost per point (value + gradient, ns of thread CPU time)",
        "",
        f"{args.points} points; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for row in rows:
        ratio = row["faddeeva_re"] / row["erf (function)"]
        cells = [row["scenario"], *(f"{row[k]:.0f}" for k in KINDS.values()), f"{ratio:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    (results / "faddeeva.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
