"""benchmarks/measure.py computes unite's figures with unite_stan's diagnostics in unite's venv,
where unite_stan is not installed: its numpy-only modules must load from the source tree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Hides the installed unite_stan package (only the top-level name), as in unite's venv.
SCRIPT = f"""
import importlib.abc, sys

class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "unite_stan":
            raise ModuleNotFoundError("No module named 'unite_stan'", name="unite_stan")
        return None

sys.meta_path.insert(0, Hide())
sys.path.insert(0, {str(ROOT / "benchmarks")!r})
import numpy as np
import measure

draws = {{"a": np.random.default_rng(1).normal(size=(4, 400))}}
figures = measure.run_figures(
    draws, {{"a": (draws["a"].ravel(), 0.0)}},
    compile_s=1.0, run_s=2.0, divergences=0, leapfrog_mean=3.0,
)
print(figures["max_rhat"], figures["truth_95"], getattr(sys.modules["unite_stan"], "__file__", None))
print(sorted(m for m in sys.modules if m.startswith("unite_stan")))
"""


def test_measure_runs_without_unite_stan_installed():
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    first, modules = proc.stdout.splitlines()
    rhat, truth_95, package_file = first.split()
    assert 1.0 <= float(rhat) < 1.01
    assert truth_95 == "1/1"
    # a bare package object: the package's __init__ (astropy units, jinja2, ...) never ran
    assert package_file == "None"
    assert modules == "['unite_stan', 'unite_stan.diagnostics', 'unite_stan.draws']"
