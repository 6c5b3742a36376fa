"""The README's commands and its first fit are the ones that work."""

import os
import re
import subprocess
import sys
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
FIRST_FIT = REPO / "examples" / "first_fit.py"


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def test_readme_starts_with_the_two_commands_ci_runs():
    # .ci/run runs these two lines verbatim
    first = README.split("```")[1]
    assert first == (
        "bash\n"
        "pip install . && UNITE_STAN_BACKEND=embedded python3 examples/freeze_tutorial.py\n"
        "pip install '.[test]' && pytest\n"
    )
    ci = (REPO / ".ci" / "run").read_text()
    for command in first.splitlines()[1:]:
        assert command in ci


def test_readme_shows_the_first_fit_verbatim():
    assert FIRST_FIT.read_text() in code_blocks("python")


def test_readme_links_exist():
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README):
        if not target.startswith("http"):
            assert (REPO / target).exists(), target


@pytest.mark.stan
def test_first_fit_runs_and_recovers_the_simulation(tmp_path):
    done = subprocess.run(
        [sys.executable, str(FIRST_FIT)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "erg / (s cm2)" in done.stdout  # the summary's flux unit
    assert (tmp_path / "first_fit.png").stat().st_size > 0
    with fits.open(tmp_path / "first_fit.fits") as hdul:
        params = QTable.read(hdul["PARAMETERS"])
    median = params[list(params["percentile"]).index(0.5)]
    # simulated: amplitude × sqrt(2π) × 2.6 Å × 1e-17 erg/s/cm²/Å
    area = np.sqrt(2 * np.pi) * 2.6 * 1e-17
    flux_unit = u.erg / u.s / u.cm**2
    assert median["flux_Ha"].to_value(flux_unit) == pytest.approx(5.0 * area, rel=0.05)
    assert median["flux_NII_6549.86"].to_value(flux_unit) == pytest.approx(0.5 * area, rel=0.15)
    assert median["z_narrow"] == pytest.approx(0.0, abs=2e-5)
