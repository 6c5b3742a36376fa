"""Write tests/data/unite_3.5.2_configuration.yaml with unite itself (run in unite's venv).

    /opt/unite-venv/bin/python benchmarks/unite_yaml_fixture.py
    /opt/unite-venv/bin/python benchmarks/unite_yaml_fixture.py --check FILE.yaml

``--check`` reads a file unite_stan wrote with unite and reports whether unite writes the
identical text back (the other direction; exit status 1 when it does not).

The configuration has lines with shared tokens, expression bounds, a Fixed value, an init
value, a multiplet strength and an absorber; a continuum with two regions (one named); and two
NIRSpec dispersers (PRISM with a free flux scale and pixel offset, G395M with a labelled
resolution scale). tests/test_config_files.py checks that unite_stan loads the file and writes
the identical text back. This script imports unite; the package and the tests never do.
"""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
from unite import continuum, line, prior
from unite.config import Configuration
from unite.instrument import nirspec
from unite.instrument.base import FluxScale, PixOffset, RScale
from unite.instrument.config import InstrumentConfig

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "unite_3.5.2_configuration.yaml"


def configuration() -> Configuration:
    z = line.Redshift("narrow", prior=prior.Uniform(-0.005, 0.005))
    narrow = line.FWHM("narrow", prior=prior.Uniform(50.0, 600.0, init=200.0))
    broad = line.FWHM("broad", prior=prior.Uniform(narrow + 500.0, 5.0 * narrow))
    oiii = line.Flux("OIII", prior=prior.Uniform(0.0, 10.0))
    nii = line.Flux("NII", prior=prior.TruncatedNormal(0.5, 0.5, 0.0, 3.0))
    lc = line.LineConfiguration()
    lc.add_line("Hb", 4862.69 * u.AA, redshift=z, fwhm_gauss=narrow)
    lc.add_lines(
        "OIII", np.array([4960.30, 5008.24]) * u.AA, redshift=z, fwhm_gauss=narrow, flux=oiii,
        strength=[0.335, 1.0],
    )  # fmt: skip
    lc.add_line("Ha", 6564.61 * u.AA, redshift=z, fwhm_gauss=narrow)
    lc.add_lines(
        "NII", np.array([6549.86, 6585.27]) * u.AA, redshift=z, fwhm_gauss=narrow, flux=nii,
        strength=[0.34, 1.0],
    )  # fmt: skip
    lc.add_line(
        "Ha_broad", 6564.61 * u.AA, redshift=z, fwhm_gauss=broad,
        flux=line.Flux(prior=prior.Uniform(0.0, 5.0)),
    )  # fmt: skip
    lc.add_line(
        "HeI_abs", 5877.25 * u.AA, redshift=z, tau=line.Tau(prior=prior.Uniform(0.0, 3.0)),
        fwhm_gauss=line.FWHM(prior=prior.Fixed(narrow * 1.5)),
    )  # fmt: skip
    cc = continuum.ContinuumConfiguration(
        [
            continuum.ContinuumRegion(4800 * u.AA, 5100 * u.AA, continuum.Linear(), name="OIII"),
            continuum.ContinuumRegion(6400 * u.AA, 6700 * u.AA, continuum.Polynomial(2)),
        ]
    )
    prism = nirspec.PRISM(
        flux_scale=FluxScale(prior=prior.Uniform(0.5, 2.0)),
        pix_offset=PixOffset(prior=prior.Uniform(-1.0, 1.0)),
    )
    g395m = nirspec.G395M(
        r_source="uniform",
        r_scale=RScale("grating", prior=prior.TruncatedNormal(1, 0.05, 0.8, 1.2)),
    )
    return Configuration(lc, cc, InstrumentConfig([prism, g395m]))


def check(path: str) -> bool:
    text = Path(path).read_text()
    again = Configuration.from_yaml(text).to_yaml()
    verdict = "the identical" if again == text else "DIFFERENT"
    print(f"{path}: unite 3.5.2 loads it and writes {verdict} text back")
    return again == text


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", metavar="FILE", help="a file written by unite_stan")
    args = parser.parse_args()
    if args.check:
        raise SystemExit(0 if check(args.check) else 1)
    configuration().save(OUT)
    print(f"wrote {OUT}")
