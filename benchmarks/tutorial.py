"""The freeze tutorial end to end, on unite_stan and on unite, as a user runs it.

    python benchmarks/tutorial.py --unite-python /opt/unite-venv/bin/python
    python benchmarks/tutorial.py --no-unite

Runs the tutorial's code (``examples/freeze_tutorial.py`` up to its unite_stan additions: both
fits, the parameter tables, the frozen-parameter checks and the tutorial's two figures, saved as
PNG) in a fresh Python process per run and times the whole process, imports included. The
unite version differs only in its import line (``from unite import ...``) and in enabling
64-bit floats and one JAX host device per chain before the import, as ``run_unite.py`` does.
The working directory holds ``unite.mplstyle`` (unite_stan's copy) for the tutorial's
``pyplot.style.use('unite.mplstyle')``, so both stacks draw the same figures.

unite_stan runs once untimed first so that its compile cache is warm (the user cache, or
``$UNITE_STAN_CACHE``); unite has no persistent cache and JIT-compiles in every run. Each stack
is then timed ``--repeats`` times. Writes ``benchmarks/results/tutorial.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent / "examples" / "freeze_tutorial.py"
MARKER = "# ---- unite_stan additions"

SAVE = """
import sys as _sys
fig_data.savefig(_sys.argv[1] + '/data.png', dpi=80)
fig.savefig(_sys.argv[1] + '/comparison.png', dpi=80)
"""

UNITE_PRELUDE = """import os as _os
_os.environ.setdefault('XLA_FLAGS', '--xla_force_host_platform_device_count=4')
import jax as _jax
_jax.config.update('jax_enable_x64', True)
"""


def tutorial_code(stack: str) -> str:
    text = EXAMPLE.read_text()
    if MARKER not in text:
        raise RuntimeError(f"{EXAMPLE} has no line starting with {MARKER!r}")
    code = text[: text.index(MARKER)] + SAVE
    if stack == "unite":
        code = UNITE_PRELUDE + code.replace("from unite_stan", "from unite")
    return code


def run_once(python: str, code: str, env: dict) -> float:
    from unite_stan.styles import STYLE_FILE

    with tempfile.TemporaryDirectory() as work:
        # The tutorial's pyplot.style.use('unite.mplstyle') reads that file from the working
        # directory under unite (which ships none); both stacks get unite_stan's copy.
        shutil.copy(STYLE_FILE, Path(work) / "unite.mplstyle")
        script = Path(work) / "tutorial.py"
        script.write_text(code)
        start = time.perf_counter()
        proc = subprocess.run(
            [python, str(script), work], env=env, capture_output=True, text=True, cwd=work
        )
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"{python} tutorial failed:\n{proc.stderr[-3000:]}")
        for name in ("data.png", "comparison.png"):
            if not (Path(work) / name).is_file():
                raise RuntimeError(f"the tutorial run wrote no {name}")
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--unite-python", default="/opt/unite-venv/bin/python")
    parser.add_argument("--no-unite", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(HERE / "results"))
    opts = parser.parse_args()
    env = {**os.environ, "MPLBACKEND": "Agg", "UNITE_STAN_BACKEND": "embedded"}
    stacks = [("unite_stan", sys.executable)]
    if not opts.no_unite:
        if not Path(opts.unite_python).exists():
            raise SystemExit(f"no unite Python at {opts.unite_python}; pass --no-unite")
        stacks.append(("unite", opts.unite_python))
    rows = []
    for stack, python in stacks:
        code = tutorial_code(stack)
        if stack == "unite_stan":
            first = run_once(python, code, env)
            print(f"unite_stan: first run (fills the compile cache if cold) {first:.1f} s")
        times = [run_once(python, code, env) for _ in range(opts.repeats)]
        row = {
            "stack": stack,
            "runs": len(times),
            "min_s": round(min(times), 2),
            "mean_s": round(statistics.mean(times), 2),
            "max_s": round(max(times), 2),
        }
        print(row)
        rows.append(row)
    if len(rows) == 2:
        rows[0]["wall_fraction_of_unite"] = round(rows[0]["mean_s"] / rows[1]["mean_s"], 3)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tutorial.json").write_text(json.dumps(rows, indent=1) + "\n")
    cols = ["stack", "runs", "min_s", "mean_s", "max_s", "wall_fraction_of_unite"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    (out / "tutorial.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
