"""Gradient cost of each line profile per pixel edge, against the Gaussian (issue #13 item 9).

Uses the contract test's program (every registered component's Stan chunk, sizes as data):
one line of each profile on ``--edges`` pixel edges around its centre (R = 3000, widths at the
middle of their default priors), the others on 2 edges; times the log density's gradient
(``--calls`` evaluations, best of ``--repeats``) and reports microseconds per edge and the
ratio to the Gaussian. Prints the machine's load average beside the figures.

    python benchmarks/profile_cost.py --edges 2000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import test_component_contract as contract  # noqa: E402

from unite_stan.line.library import PROFILES  # noqa: E402
from unite_stan.stan.backends import get_backend  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    opts = parser.parse_args()
    backend = get_backend("embedded")
    model = backend.compile(contract._program(), progress=False)
    rows = []
    for cls in PROFILES:
        profile = cls.contract_examples()[0]
        p = cls.stan_name
        _, widths, resolution = [
            point for point in contract._profile_points(profile) if point[0] == "mid-R3000"
        ][0]
        edge = contract.CENTRE + np.linspace(-40.0, 40.0, opts.edges)
        data = contract._data(
            model,
            **{
                f"N_{p}": edge.size,
                f"S_{p}": len(profile.slots),
                f"edge_{p}": edge,
                f"lsf2_{p}": (edge / resolution) ** 2,
                f"w_{p}": np.ones(edge.size),
            },
        )
        vector = np.array([widths[s] for s in profile.slots])
        x, _ = contract._point(data, {f"centre_{p}": contract.CENTRE, f"width_{p}": vector})
        density = backend.log_density(model, data)
        best = np.inf
        for _ in range(opts.repeats):
            start = time.perf_counter()
            for _ in range(opts.calls):
                density(x)
            best = min(best, (time.perf_counter() - start) / opts.calls)
        rows.append({"profile": cls.__name__, "us_per_edge": 1e6 * best / edge.size})
    gauss = next(r["us_per_edge"] for r in rows if r["profile"] == "Gaussian")
    for r in rows:
        r["vs_gaussian"] = round(r["us_per_edge"] / gauss, 2)
        r["us_per_edge"] = round(r["us_per_edge"], 4)
    print(json.dumps({"edges": opts.edges, "load_average": os.getloadavg(), "rows": rows}))
    for r in rows:
        print(f"{r['profile']:22s} {r['us_per_edge']:8.4f} us/edge  {r['vs_gaussian']:5.2f}x")


if __name__ == "__main__":
    main()
