"""Parity of every line profile's and continuum form's model columns with unite.

For every line profile unite_stan registers (``unite_stan.line.library.PROFILES``) and every
continuum form (``unite_stan.continuum.library.FORMS``) the same configuration is built in both
packages, with every parameter Fixed (line redshift, widths, shape parameters and flux; every
continuum slot; the calibration tokens keep their Fixed defaults), on one simulated spectrum:
R = 3000, 6400-6800 A in 0.5 A pixels, one line at 6563 A (rest; z_sys = 0, the line's own
redshift 3e-4) in a continuum region 6420-6780 A. A profile's case has a Linear continuum; a
form's case a Gaussian line. The scales are set by hand (``line_scale`` 1e-15 erg/s/cm2,
``continuum_scale`` 1e-17 erg/s/cm2/A), so the comparison does not depend on either package's
``compute_scales``. With nothing sampled, ``results.make_spectra_tables({}, args)`` on the
built model's arguments gives the one-draw decomposition in both packages (no fit, no Stan
compile).

The line, continuum and total columns are compared (unite_stan against unite: the largest
relative difference over the pixels where unite's component exceeds 1e-6 of its peak, and the
largest absolute difference over the peak). Three more line cases put a Laplace width far
below the Gaussian's, where unite drops terms beyond T_max = 26 and unite_stan does not; one
gives SkewVoigt a Gaussian much narrower than the LSF and a small alpha, where its empirical
boost is large.

Each component is also compared with an independent reference written from the definitions
(unite_api.md §3.6, §3.8) with scipy: for a line, the LSF-convolved profile's cumulative at
every pixel edge (with that edge's LSF, as both packages' analytic mode) by
``scipy.integrate.quad`` (the exact Voigt for Cauchy and PseudoVoigt, whose cumulative both
packages approximate by Ida et al.'s extended pseudo-Voigt; none for SkewVoigt, which unite
defines by its pixel-by-pixel cumulative alone); for a continuum, what both
likelihoods use: the form's pixel average by ``quad`` (convolved with the region's LSF for the
polynomial family), or its value at the pixel centre for the forms integrated by the midpoint
rule, with astropy's physical constants. unite's tables evaluate continua at pixel centres
(polynomial forms with each centre's LSF) while unite_stan's are the likelihood's pixel
averages (docs/differences.md); the note gives how closely unite's column equals the
reference evaluated that way.

    python benchmarks/parity_components.py
    python benchmarks/parity_components.py --unite-python /opt/unite-venv/bin/python
    python benchmarks/parity_components.py --only profile:SEMG form:PowerLaw --out /tmp/p

Each package runs in its own process (this script with ``--stack``; unite in float64, its
default analytic mode), exchanging the columns through a temporary JSON file. Results go to
``benchmarks/results/parity_components.{json,md}``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import astropy.units as u
import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import scenarios  # noqa: E402

C_KMS = 299792.458
FLAM = u.erg / u.s / u.cm**2 / u.AA
FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))

#: the spectrum: edges [A], resolving power
EDGES = np.linspace(6400.0, 6800.0, 801)
RESOLUTION = 3000.0
#: the continuum region [A, rest]; z_sys = 0 (unite's B-spline knots and blackbody frame are
#: only comparable there, docs/differences.md)
REGION = (6420.0, 6780.0)
NORM_WAV = 6590.0
#: the line: rest centre [A], its redshift, its flux [line_scale]
LINE_REST, LINE_Z, LINE_FLUX = 6563.0, 3e-4, 2.0
LINE_SCALE = 1e-15 * u.erg / u.s / u.cm**2
CONTINUUM_SCALE = 1e-17 * FLAM
#: relative threshold: pixels where the component exceeds this fraction of its peak
FLOOR = 1e-6
TARGET = 1e-5

#: profile -> slot values (FWHMs in km/s; h3, h4, alpha as they are): every_profile's truths,
#: and SkewVoigt's (not in every_profile, whose simulation convolves intrinsic profiles: unite
#: defines SkewVoigt only through its pixel-by-pixel cumulative)
PROFILE_VALUES = {
    **dict(scenarios.EVERY_PROFILE),
    "SkewVoigt": {"fwhm_gauss": 200.0, "fwhm_lorentz": 150.0, "alpha": 2.0},
}
#: profiles without an independent reference here: SkewVoigt's cumulative is unite's own
#: construction (each pixel's pseudo-Voigt content times a skew factor at its midpoint), which
#: no integral of a density reproduces
NO_REFERENCE = {"SkewVoigt": "no scipy reference: unite defines it pixel by pixel"}
#: cases beyond one per profile: case name -> (profile, slot values, note). A Laplace width far
#: below the Gaussian's (with the LSF), where unite drops the exp·erfc terms whose exponent
#: exceeds T_max = 26 (a = s λ_e / 2 above it; unite_api.md §3.6) and unite_stan keeps them
EXTRA_LINE_CASES = {
    "SEMG/narrow-Laplace": (
        "SEMG",
        {"fwhm_gauss": 300.0, "fwhm_exp": 4.0},
        "Laplace FWHM 1/79 of G_tot: a = 32.9 > 26, unite's profile is the Gaussian alone",
    ),
    "Laplace/narrow": (
        "Laplace",
        {"fwhm_exp": 1.5},
        "Laplace FWHM 1/67 of the LSF: a = 27.7 > 26, unite's profile is the LSF alone",
    ),
    "SkewVoigt/narrow-Gauss": (
        "SkewVoigt",
        {"fwhm_gauss": 10.0, "fwhm_lorentz": 150.0, "alpha": -0.1},
        "Gaussian FWHM 1/10 of the LSF and small alpha: unite's empirical boost multiplies "
        "alpha_eff by exp(2.21) = 9.1",
    ),
    "GaussianSplitLaplace/narrow-blue": (
        "GaussianSplitLaplace",
        {"fwhm_gauss": 150.0, "fwhm_l_blue": 2.0, "fwhm_l_red": 350.0},
        "blue Laplace FWHM 1/90 of G_tot: a_b = 37.5, unite drops the blue term where "
        "a_b(a_b + 2t) > 26²",
    ),
}


def profile_of(name: str) -> str:
    """The profile of a profile case."""
    return line_case(name)[0]


def line_case(name: str) -> tuple[str, dict]:
    """(profile, slot values) of a profile case."""
    if name in PROFILE_VALUES:
        return name, PROFILE_VALUES[name]
    return EXTRA_LINE_CASES[name][:2]


#: the line of every continuum form's case, and the continuum of every profile's case
FORM_LINE = ("Gaussian", {"fwhm_gauss": 300.0})
PROFILE_CONTINUUM = "Linear"
#: form constructor settings (also used by the references)
CHEBYSHEV_STRETCH, BERNSTEIN_STRETCH = 1.2, 1.1
#: one knot: unite 3.5.2's BSpline._prepare tests the knots with a Python ``or`` of arrays, so
#: a region with two knots or more raises ValueError there
BSPLINE_KNOTS, BSPLINE_DEGREE = [6600.0], 3


def _template_path(aux: str) -> str:
    return str(Path(aux) / "template.ecsv")


#: continuum form -> (the form from the api namespace and the auxiliary folder, slot values but
#: norm_wav, which is NORM_WAV wherever the form has it)
FORM_CASES = {
    "Linear": (lambda api, aux: api.continuum.Linear(), {"scale": 1.0, "angle": 0.003}),
    "Polynomial": (
        lambda api, aux: api.continuum.Polynomial(degree=3),
        {"scale": 1.0, "c1": 2e-3, "c2": -1e-5, "c3": 5e-8},
    ),
    "PowerLaw": (lambda api, aux: api.continuum.PowerLaw(), {"scale": 1.0, "beta": -1.7}),
    "Chebyshev": (
        lambda api, aux: api.continuum.Chebyshev(order=3, stretch=CHEBYSHEV_STRETCH),
        {"scale": 1.0, "c1": 0.3, "c2": -0.1, "c3": 0.05},
    ),
    "Legendre": (
        lambda api, aux: api.continuum.Legendre(order=3),
        {"scale": 1.0, "p1": 0.2, "p2": -0.1, "p3": 0.05},
    ),
    "Bernstein": (
        lambda api, aux: api.continuum.Bernstein(degree=4, stretch=BERNSTEIN_STRETCH),
        {"scale": 1.0, "coeff_1": 1.2, "coeff_2": 0.9, "coeff_3": 1.1, "coeff_4": 1.3},
    ),
    "BSpline": (
        lambda api, aux: api.continuum.BSpline(BSPLINE_KNOTS * u.AA, degree=BSPLINE_DEGREE),
        {
            "scale": 1.0,
            **{f"coeff_{i}": v for i, v in enumerate([1.1, 0.9, 1.2, 0.8], 1)},
        },
    ),
    "Blackbody": (
        lambda api, aux: api.continuum.Blackbody(),
        {"scale": 1.0, "temperature": 8000.0},
    ),
    "ModifiedBlackbody": (
        lambda api, aux: api.continuum.ModifiedBlackbody(),
        {"scale": 1.0, "temperature": 8000.0, "beta": 1.5},
    ),
    "AttenuatedBlackbody": (
        lambda api, aux: api.continuum.AttenuatedBlackbody(),
        {"scale": 1.0, "temperature": 8000.0, "tau_v": 0.5, "alpha": -0.7},
    ),
    # Lyman alpha of the absorber at 1215.67 × (1 + 4.38) = 6540 A, its damping wing over the line
    "DLAPowerLaw": (
        lambda api, aux: api.continuum.DLAPowerLaw(),
        {"scale": 1.0, "beta": -1.5, "log_NHI": 20.3, "b": 30.0, "redshift": 4.38},
    ),
    "Template": (
        lambda api, aux: api.continuum.Template(_template_path(aux)),
        {"young_scale": 1.0, "old_scale": 0.5},
    ),
}


def write_template(aux: str) -> None:
    """Two smooth template columns on a 1 A grid covering the region (ECSV, f_lambda units)."""
    from astropy.table import QTable

    wave = np.arange(6000.0, 7201.0, 1.0)
    young = (wave / 6600.0) ** -2.0 * (1.0 + 0.05 * np.sin(wave / 40.0))
    old = (wave / 6600.0) * (1.0 - 0.3 * np.exp(-0.5 * ((wave - 6650.0) / 8.0) ** 2))
    table = QTable([wave * u.AA, young * FLAM, old * FLAM], names=["wavelength", "young", "old"])
    table.write(_template_path(aux), format="ascii.ecsv", overwrite=True)


# ---- one case, written once against either package's API ------------------------------------


def build_case(api, case: str, aux: str):
    """(spectra, lines, continuum) of ``case`` (``'profile:<name>'`` or ``'form:<name>'``)."""
    kind, name = case.split(":")
    p = api.prior
    lo, hi = EDGES[:-1], EDGES[1:]
    mid = 0.5 * (lo + hi)
    sigma = LINE_REST * math.hypot(300.0 / C_KMS, 1.0 / RESOLUTION) * FWHM_TO_SIGMA
    flux = 1.0 + 2.0 * (100.0 / (sigma * math.sqrt(2 * math.pi))) * np.exp(
        -0.5 * ((mid - LINE_REST) / sigma) ** 2
    )
    disperser = api.SimpleDisperser(wavelength=mid * u.AA, R=RESOLUTION, name="grating")
    spec = api.spectrum.from_edges(
        lo * u.AA,
        hi * u.AA,
        flux * 1e-17 * FLAM,
        np.full(mid.size, 0.1e-17) * FLAM,
        disperser,
        name="grating",
    )
    profile, values = line_case(name) if kind == "profile" else FORM_LINE
    slots = {
        slot: (api.line.FWHM if slot.startswith("fwhm") else api.line.LineShape)(
            prior=p.Fixed(float(v))
        )
        for slot, v in values.items()
    }
    lc = api.line.LineConfiguration()
    lc.add_line(
        "Ha",
        LINE_REST * u.AA,
        profile=getattr(api.line, profile)(),  # an instance: unite's aliases are lower-case
        redshift=api.line.Redshift(prior=p.Fixed(LINE_Z)),
        flux=api.line.Flux(prior=p.Fixed(LINE_FLUX)),
        **slots,
    )
    factory, slot_values = FORM_CASES[PROFILE_CONTINUUM if kind == "profile" else name]
    form = factory(api, aux)
    names = list(form.param_names())
    if set(names) - {"norm_wav"} != set(slot_values):
        raise ValueError(f"{type(form).__name__} slots {names}; values given for {slot_values}")
    params = {}
    for slot in names:
        if slot == "norm_wav":
            params[slot] = api.continuum.NormWavelength(prior=p.Fixed(NORM_WAV))
        elif slot == "scale" or slot.endswith("_scale"):
            params[slot] = api.continuum.Scale(prior=p.Fixed(slot_values[slot]))
        else:
            params[slot] = api.continuum.ContShape(prior=p.Fixed(slot_values[slot]))
    region = api.continuum.ContinuumRegion(
        REGION[0] * u.AA, REGION[1] * u.AA, form=form, params=params, name="c"
    )
    cc = api.continuum.ContinuumConfiguration([region])
    spectra = api.spectrum.Spectra([spec], redshift=0.0)
    flc, fcc = spectra.prepare(lc, cc)
    spectra.line_scale = LINE_SCALE
    spectra.continuum_scale = CONTINUUM_SCALE
    return spectra, flc, fcc


def evaluate_case(api, case: str, aux: str) -> dict:
    """The table's columns of ``case``: wavelength, and per role (line, continuum, total) the
    column's name and values (the one draw)."""
    spectra, lc, cc = build_case(api, case, aux)
    _, args = api.model.ModelBuilder(lc, cc, spectra).build()
    (table,) = api.results.make_spectra_tables({}, args).values()
    data = {"observed_flux", "observed_error", "scaled_error", "wavelength", "model_total"}
    line_names = [entry.name for entry in lc]
    others = [c for c in table.colnames if c not in data and c not in line_names]
    if len(line_names) != 1 or len(others) != 1:
        raise ValueError(f"unexpected columns {table.colnames}")

    def column(name):
        values = np.asarray(table[name].value, dtype=float)
        return values[:, 0] if values.ndim == 2 else values

    return {
        "wavelength": column("wavelength").tolist(),
        "unit": str(table["model_total"].unit),
        "columns": {
            "line": [line_names[0], column(line_names[0]).tolist()],
            "continuum": [others[0], column(others[0]).tolist()],
            "total": ["model_total", column("model_total").tolist()],
        },
    }


# ---- the two workers ---------------------------------------------------------------------


def _stack_api(stack: str):
    if stack == "unite":
        import jax

        jax.config.update("jax_enable_x64", True)
    return scenarios.api_of(stack)


def unite_stan_cases() -> tuple[list[str], list[str]]:
    """The cases of unite_stan's registered components, and the components without a case."""
    from unite_stan.continuum.library import FORMS
    from unite_stan.line.library import PROFILES

    cases, missing = [], []
    for kind, registry, known in (
        ("profile", PROFILES, PROFILE_VALUES),
        ("form", FORMS, FORM_CASES),
    ):
        for cls in registry:
            (cases if cls.__name__ in known else missing).append(f"{kind}:{cls.__name__}")
    for name, (profile, _, _) in EXTRA_LINE_CASES.items():
        if profile in PROFILES:
            cases.append(f"profile:{name}")
    return cases, missing


def worker(stack: str, cases: list[str], aux: str, out: str) -> None:
    api = _stack_api(stack)
    if stack == "unite":
        import unite

        version = unite.__version__
    else:
        import unite_stan

        version = _git_commit(Path(unite_stan.__file__).resolve().parents[1])
    results = {"stack": stack, "version": version, "cases": {}}
    for case in cases:
        t0 = time.perf_counter()
        try:
            results["cases"][case] = evaluate_case(api, case, aux)
        except Exception as exc:  # recorded, the other cases go on
            results["cases"][case] = {"error": f"{type(exc).__name__}: {exc}"}
            traceback.print_exc()
        print(f"[{stack}] {case}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    Path(out).write_text(json.dumps(results))


def _git_commit(root: Path) -> str:
    """The checkout's commit, with ``+dirty`` if it has uncommitted changes."""

    def git(*args):
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, cwd=root, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# ---- independent reference: the LSF-convolved profiles' cumulatives by quadrature -----------


def _phi(z: float) -> float:
    """Standard normal cumulative."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def _reference_parts(profile: str, values: dict, centre: float):
    """(kernel density p(y) or None for a delta, its breakpoints, intrinsic Gaussian FWHM [A]):
    the profile is p convolved with a Gaussian of FWHM sqrt(L² + W_g²), from the profiles'
    definitions (unite_api.md §3.6), written with ``math`` (scalar calls to scipy.stats'
    densities would dominate the time)."""

    def aa(v):
        return centre * v / C_KMS

    if profile == "Gaussian":
        return None, (), aa(values["fwhm_gauss"])
    if profile in ("Cauchy", "PseudoVoigt"):  # the exact Voigt: Lorentzian ⊛ Gaussian
        gamma = aa(values["fwhm_lorentz"]) / 2

        def lorentz(y):
            return gamma / (math.pi * (y * y + gamma * gamma))

        return lorentz, (0.0,), aa(values.get("fwhm_gauss", 0.0))
    if profile in ("Laplace", "SEMG"):
        b = aa(values["fwhm_exp"]) / (2 * math.log(2))

        def laplace(y):
            return math.exp(-abs(y) / b) / (2 * b)

        return laplace, (0.0,), aa(values.get("fwhm_gauss", 0.0))
    if profile == "GaussianSplitLaplace":
        lam_b = 2 * math.log(2) / aa(values["fwhm_l_blue"])
        lam_r = 2 * math.log(2) / aa(values["fwhm_l_red"])
        norm = lam_b * lam_r / (lam_b + lam_r)

        def asym(y):
            return norm * math.exp(-lam_r * y if y >= 0 else lam_b * y)

        return asym, (0.0,), aa(values["fwhm_gauss"])
    if profile == "BoxGauss":
        h = aa(values["fwhm_box"]) / 2

        def box(y):
            return 1.0 / (2 * h) if abs(y) <= h else 0.0

        return box, (-h, h), aa(values["fwhm_gauss"])
    if profile == "GaussHermite":  # the intrinsic series; the LSF is the whole Gaussian
        sigma = aa(values["fwhm_gauss"]) * FWHM_TO_SIGMA
        c3, c4 = values["h3"] / math.sqrt(6), values["h4"] / math.sqrt(24)

        def hermite(y):
            t = y / sigma
            series = 1 + c3 * (t**3 - 3 * t) + c4 * (t**4 - 6 * t**2 + 3)
            return math.exp(-0.5 * t * t) / (sigma * math.sqrt(2 * math.pi)) * series

        return hermite, (0.0,), 0.0
    if profile == "SkewNormal":  # the intrinsic skew normal; the LSF is the whole Gaussian
        sigma = aa(values["fwhm_gauss"]) * FWHM_TO_SIGMA
        alpha = values["alpha"]

        def skew(y):
            t = y / sigma
            return 2 * math.exp(-0.5 * t * t) / (sigma * math.sqrt(2 * math.pi)) * _phi(alpha * t)

        return skew, (0.0,), 0.0
    raise KeyError(profile)


def reference_line(
    profile: str, values: dict, wavelength: np.ndarray, pixels: np.ndarray
) -> np.ndarray:
    """The line column (erg/s/cm2/A) at ``pixels`` (indices into ``wavelength``, the table's
    pixel centres) from cumulatives integrated with ``scipy.integrate.quad`` at the pixels'
    edges, each with that edge's LSF; the upper tail 1 − C is integrated directly right of the
    centre, so no pixel there loses digits to cancellation. NaN elsewhere."""
    from scipy import integrate

    half = 0.5 * (EDGES[1] - EDGES[0])
    centre = LINE_REST * (1 + LINE_Z)
    quad = dict(epsabs=0.0, epsrel=1e-12, limit=400)

    def pieces(points):
        points = sorted(set(points))
        return [
            (-np.inf, points[0]),
            *zip(points[:-1], points[1:], strict=True),
            (points[-1], np.inf),
        ]

    if profile == "SplitNormal":  # each side a Gaussian with the LSF in quadrature
        k = math.sqrt(2 * math.log(2))

        def tails(x, lsf_fwhm):
            blue = math.hypot(lsf_fwhm, centre * values["fwhm_blue"] / C_KMS) / (2 * k)
            red = math.hypot(lsf_fwhm, centre * values["fwhm_red"] / C_KMS) / (2 * k)
            norm = 1.0 / ((blue + red) * math.sqrt(math.pi / 2))

            def pdf(y):
                return norm * math.exp(-0.5 * (y / (red if y > 0 else blue)) ** 2)

            spans = pieces([0.0, x])
            lower = sum(integrate.quad(pdf, a, b, **quad)[0] for a, b in spans if b <= x)
            upper = sum(integrate.quad(pdf, a, b, **quad)[0] for a, b in spans if a >= x)
            return lower, upper

    else:
        kernel, breaks, w_gauss = _reference_parts(profile, values, centre)

        def tails(x, lsf_fwhm):
            s = math.hypot(lsf_fwhm, w_gauss) * FWHM_TO_SIGMA
            if kernel is None:
                return _phi(x / s), _phi(-x / s)
            spans = pieces([*breaks, x])
            lower = sum(
                integrate.quad(lambda y: kernel(y) * _phi((x - y) / s), a, b, **quad)[0]
                for a, b in spans
            )
            upper = sum(
                integrate.quad(lambda y: kernel(y) * _phi((y - x) / s), a, b, **quad)[0]
                for a, b in spans
            )
            return lower, upper

    out = np.full(wavelength.size, np.nan)
    amplitude = LINE_FLUX * LINE_SCALE.to_value(u.erg / u.s / u.cm**2)
    cache = {}

    def at(edge):  # each edge's tails once
        if edge not in cache:
            cache[edge] = tails(edge - centre, edge / RESOLUTION)
        return cache[edge]

    for i in pixels:
        lo, hi = wavelength[i] - half, wavelength[i] + half
        (c_lo, q_lo), (c_hi, q_hi) = at(lo), at(hi)
        content = c_hi - c_lo if wavelength[i] <= centre else q_lo - q_hi
        out[i] = amplitude * content / (hi - lo)
    return out


#: forms whose pixel value is the LSF-convolved form's pixel average in the likelihood (the
#: region's one LSF width); the other forms with a reference have no LSF
LSF_FORMS = ("Polynomial", "Chebyshev", "Legendre", "Bernstein")
#: forms both likelihoods evaluate by the midpoint rule (the value at the pixel centre)
MIDPOINT_FORMS = (
    "BSpline",
    "Blackbody",
    "ModifiedBlackbody",
    "AttenuatedBlackbody",
    "DLAPowerLaw",
    "Template",
)


def _form_function(name: str, values: dict, aux: str):
    """The form's unconvolved value g(λ) [continuum_scale] at observed wavelengths [A], from
    its definition (unite_api.md §3.8, z_sys = 0), as a vectorised function, and the factor
    by which the LSF-convolved g is multiplied (normalisers use the unconvolved series)."""
    import astropy.constants as const
    from numpy.polynomial import chebyshev, legendre
    from scipy.interpolate import BSpline
    from scipy.special import comb, wofz

    low, high = REGION
    centre, hw, nw = 0.5 * (low + high), 0.5 * (high - low), NORM_WAV
    v = values
    if name == "Linear":
        return lambda lam: v["scale"] + math.tan(v["angle"]) * (lam - nw), 1.0
    if name == "Polynomial":
        coeffs = [v["scale"], *(v[f"c{i}"] for i in range(1, len(v)))]
        return lambda lam: np.polynomial.polynomial.polyval(lam - nw, coeffs), 1.0
    if name == "PowerLaw":
        return lambda lam: v["scale"] * (lam / nw) ** v["beta"], 1.0
    if name == "Chebyshev":
        stretch = CHEBYSHEV_STRETCH

        def series(lam):
            return chebyshev.chebval(
                (lam - centre) / (hw * stretch), [1.0, v["c1"], v["c2"], v["c3"]]
            )

        return series, v["scale"] / series(nw)
    if name == "Legendre":
        coeffs = [v["scale"], v["p1"], v["p2"], v["p3"]]
        return lambda lam: legendre.legval((lam - centre) / hw, coeffs), 1.0
    if name == "Bernstein":
        stretch, n = BERNSTEIN_STRETCH, 4
        b = [1.0, *(v[f"coeff_{i}"] for i in range(1, n + 1))]

        def bern(lam):
            t = ((lam - centre) / (hw * stretch) + 1) / 2
            return sum(b[i] * comb(n, i) * t**i * (1 - t) ** (n - i) for i in range(n + 1))

        return bern, v["scale"] / bern(nw)
    if name == "BSpline":
        degree, knots = BSPLINE_DEGREE, BSPLINE_KNOTS
        t = np.array([low] * (degree + 1) + knots + [high] * (degree + 1))
        c = np.array([1.0, *(v[f"coeff_{i}"] for i in range(1, t.size - degree - 1))])
        spline = BSpline(2 * (t - low) / (high - low) - 1, c, degree)

        def bspline(lam):
            return spline(2 * (np.asarray(lam) - low) / (high - low) - 1)

        return bspline, v["scale"] / bspline(nw)
    if name in ("Blackbody", "ModifiedBlackbody", "AttenuatedBlackbody"):
        hc_k = (const.h * const.c / const.k_B).to_value(u.um * u.K)
        x = hc_k / v["temperature"]  # µm

        def planck(lam):
            lam_um, nw_um = np.asarray(lam) * 1e-4, nw * 1e-4
            value = (nw_um / lam_um) ** 5 * np.expm1(x / nw_um) / np.expm1(x / lam_um)
            if name == "ModifiedBlackbody":
                value = value * (lam_um / nw_um) ** v["beta"]
            if name == "AttenuatedBlackbody":
                ext = 0.55
                value = value * np.exp(
                    -v["tau_v"] * ((lam_um / ext) ** v["alpha"] - (nw_um / ext) ** v["alpha"])
                )
            return value

        return planck, v["scale"]
    if name == "DLAPowerLaw":
        lya, b = 1215.67, v["b"]
        lam_km = 1.21567e-10
        a = 6.2649e8 * lam_km / (4 * math.pi * b)
        k_lya = (
            0.41641 * const.e.si**2 / (4 * math.sqrt(math.pi) * const.eps0 * const.m_e * const.c)
        ).to_value(u.cm**2 / u.s)

        def dla(lam):
            lam = np.asarray(lam, dtype=float)
            rest = lam / (1 + v["redshift"])
            x = C_KMS * (lya - rest) / (rest * b)
            sigma = k_lya * lam_km / b * wofz(x + 1j * a).real
            trans = np.where(rest <= lya, 0.0, np.exp(-(10.0 ** v["log_NHI"]) * sigma))
            return (lam / nw) ** v["beta"] * trans

        return dla, v["scale"]
    if name == "Template":
        from astropy.table import QTable

        table = QTable.read(_template_path(aux), format="ascii.ecsv")
        wave = table["wavelength"].to_value(u.AA)
        cols = {c: np.asarray(table[c].value) for c in ("young", "old")}

        def template(lam):
            return sum(
                v[f"{c}_scale"] * np.interp(lam, wave, f) / np.interp(nw, wave, f)
                for c, f in cols.items()
            )

        return template, 1.0
    return None


def reference_continuum(name: str, values: dict, wavelength: np.ndarray, aux: str):
    """The continuum column (erg/s/cm2/A) two ways, or None without a definition here:
    as the likelihoods use it (the pixel average by ``scipy.integrate.quad`` of the form
    convolved with the region's LSF, or the value at the pixel centre for the midpoint-rule
    forms), and at pixel centres with each centre's LSF (unite's tables)."""
    from numpy.polynomial.hermite_e import hermegauss
    from scipy import integrate

    parts = _form_function(name, values, aux)
    if parts is None:
        return None
    g, factor = parts
    nodes, weights = hermegauss(24)  # exact expectations of polynomials up to degree 47
    weights = weights / weights.sum()
    region_sigma = 0.5 * sum(REGION) / RESOLUTION * FWHM_TO_SIGMA

    def smoothed(lam, sigma):
        if name not in LSF_FORMS:
            return g(lam)
        return float(np.dot(weights, g(lam + sigma * nodes)))

    half = 0.5 * (EDGES[1] - EDGES[0])
    scale = factor * CONTINUUM_SCALE.to_value(FLAM)
    average = np.empty(wavelength.size)
    centres = np.empty(wavelength.size)
    for i, lam in enumerate(wavelength):
        if name in MIDPOINT_FORMS:
            average[i] = float(g(lam))
        else:
            average[i] = integrate.quad(
                lambda x: smoothed(x, region_sigma),
                lam - half,
                lam + half,
                epsabs=0.0,
                epsrel=1e-13,
            )[0] / (2 * half)
        centres[i] = smoothed(lam, lam / RESOLUTION * FWHM_TO_SIGMA)
    return average * scale, centres * scale


# ---- comparison -----------------------------------------------------------------------------


def compare(mine: np.ndarray, theirs: np.ndarray) -> dict:
    """Largest relative difference over the pixels where ``theirs`` exceeds FLOOR of its
    peak, and largest absolute difference over the peak (pixels where ``theirs`` is NaN, not
    computed, are left out)."""
    finite = np.isfinite(theirs)
    peak = float(np.max(np.abs(theirs[finite])))
    diff = np.where(finite, np.abs(mine - theirs), 0.0)
    if peak == 0.0:
        return {"max_rel": float(np.max(diff)), "max_abs_over_peak": None, "n_pixels": 0}
    keep = finite & (np.abs(np.where(finite, theirs, 0.0)) > FLOOR * peak)
    rel = diff[keep] / np.abs(theirs[keep])
    k = int(np.argmax(rel))
    return {
        "max_rel": float(rel[k]),
        "at_pixel": int(np.flatnonzero(keep)[k]),
        "max_abs_over_peak": float(np.max(diff) / peak),
        "n_pixels": int(keep.sum()),
        "peak": peak,
    }


def analyse(cases, stan, unite, missing, reference: bool, aux: str) -> dict:
    rows = []
    for case in cases:
        kind, name = case.split(":")
        a, b = stan["cases"].get(case, {}), unite["cases"].get(case, {})
        errors = {k: v["error"] for k, v in (("unite_stan", a), ("unite", b)) if "error" in v}
        if errors:
            rows.append({"case": case, "role": "all", "errors": errors})
            continue
        wa, wb = np.array(a["wavelength"]), np.array(b["wavelength"])
        if wa.shape != wb.shape or np.max(np.abs(wa - wb)) > 0:
            rows.append({"case": case, "role": "all", "errors": {"grid": "pixel grids differ"}})
            continue
        if u.Unit(a["unit"]) != u.Unit(b["unit"]):
            units = f"{a['unit']} against {b['unit']}"
            rows.append({"case": case, "role": "all", "errors": {"unit": units}})
            continue
        roles = ("line", "total") if kind == "profile" else ("continuum", "total")
        for role in ("line", "continuum", "total"):
            (label_a, va), (label_b, vb) = a["columns"][role], b["columns"][role]
            va, vb = np.array(va), np.array(vb)
            row = {
                "case": case,
                "role": role,
                "component": label_b,
                "names_agree": label_a == label_b,
                "shown": role in roles,
                **compare(va, vb),
            }
            if role == "continuum" and kind == "form" and reference:
                refs = reference_continuum(name, FORM_CASES[name][1], wb, aux)
                if refs is not None:
                    row["unite_stan_vs_scipy"] = compare(va, refs[0])
                    row["unite_vs_scipy"] = compare(vb, refs[0])
                    row["unite_vs_scipy_centres"] = compare(vb, refs[1])
                    row["unite_stan_vs_scipy_centres"] = compare(va, refs[1])
            if (
                role == "line"
                and kind == "profile"
                and reference
                and profile_of(name) not in NO_REFERENCE
            ):
                t0 = time.perf_counter()
                pixels = np.flatnonzero(np.abs(vb) > FLOOR * np.max(np.abs(vb)))
                ref = reference_line(*line_case(name), wb, pixels)
                row["unite_stan_vs_scipy"] = compare(va, ref)
                row["unite_vs_scipy"] = compare(vb, ref)
                row["reference_s"] = round(time.perf_counter() - t0, 1)
            rows.append(row)
    return {
        "meta": {
            "date": datetime.date.today().isoformat(),
            "unite_stan": stan["version"],
            "unite": unite["version"],
            "spectrum": f"R = {RESOLUTION:g}, {EDGES[0]:g}-{EDGES[-1]:g} A, "
            f"{EDGES[1] - EDGES[0]:g} A pixels; region {REGION[0]:g}-{REGION[1]:g} A",
            "line": f"{LINE_REST:g} A rest, redshift {LINE_Z:g}, flux {LINE_FLUX:g} x line_scale",
            "floor": FLOOR,
            "target": TARGET,
            "profile_values": PROFILE_VALUES,
            "extra_line_cases": {k: v[:2] for k, v in EXTRA_LINE_CASES.items()},
            "form_values": {k: v[1] for k, v in FORM_CASES.items()},
            "norm_wav": NORM_WAV,
            "without_case": missing,
        },
        "rows": rows,
    }


def _fmt(x) -> str:
    return "–" if x is None else f"{x:.1e}"


#: causes found for differences of a component from the reference (shown when unite_stan's
#: difference from it exceeds the threshold)
CAUSES = {
    "DLAPowerLaw": (
        1e-9,
        "unite_stan's K = f e²/(4√π ε0 m_e c) is rounded (6.23517e-3 cm²/s, 6.5e-7 low); unite "
        "and the reference take it from astropy's constants (6.2351740e-3), so the difference "
        "grows as τ × 6.5e-7",
    ),
    "Blackbody": (
        1e-11,
        "unite_stan's hc/k is rounded (14387.7688 µm K); unite and the reference use astropy's "
        "(14387.768775, 1.7e-9 apart)",
    ),
}
CAUSES["ModifiedBlackbody"] = CAUSES["AttenuatedBlackbody"] = CAUSES["Blackbody"]
#: the same for unite's difference from the reference
UNITE_CAUSES = {
    "DLAPowerLaw": (
        1e-9,
        "unite's: jax.scipy.special.wofz's real part is 1e-8 off scipy's in the damping wing, × τ",
    ),
}


def _note(row) -> str:
    kind, name = row["case"].split(":")
    notes = []
    if not row["names_agree"]:
        notes.append("column names differ")
    if row["role"] == "line" and name in ("Cauchy", "PseudoVoigt"):
        notes.append("both: Ida et al.'s cumulative; scipy: the exact Voigt")
    if row["role"] == "line" and profile_of(name) in NO_REFERENCE:
        notes.append(NO_REFERENCE[profile_of(name)])
    if row["role"] == "line" and name in EXTRA_LINE_CASES:
        notes.append(EXTRA_LINE_CASES[name][2])
    if row["role"] == "continuum" and "unite_vs_scipy_centres" in row:
        at_centres = _fmt(row["unite_vs_scipy_centres"]["max_rel"])
        if name in MIDPOINT_FORMS:
            notes.append("midpoint rule in both")
        elif name in LSF_FORMS:
            notes.append(
                "unite: pixel centres with each centre's LSF (scipy so: "
                f"{at_centres}); unite_stan: pixel averages with the region's LSF, as both "
                "likelihoods"
            )
        elif row["max_rel"] > 1e-12:
            notes.append(
                f"unite: pixel centres (scipy so: {at_centres}); unite_stan: pixel averages, "
                "as both likelihoods (f''Δ²/24 apart)"
            )
        threshold, cause = CAUSES.get(name, (np.inf, ""))
        if row["unite_stan_vs_scipy"]["max_rel"] > threshold:
            notes.append(cause)
        threshold, cause = UNITE_CAUSES.get(name, (np.inf, ""))
        if row["unite_vs_scipy"]["max_rel"] > threshold:
            notes.append(cause)
    if name == "BSpline" and row["role"] == "continuum":
        notes.append("one knot: unite 3.5.2 rejects several (ValueError in BSpline._prepare)")
    if row["role"] == "total" and row["max_rel"] > 1e-9:
        notes.append("the continuum's difference" if kind == "form" else "the line's difference")
    return "; ".join(notes)


def markdown(result: dict) -> str:
    meta = result["meta"]
    lines = [
        "# Parity of the components' model columns: unite_stan against unite",
        "",
        f"{meta['date']}; unite_stan {meta['unite_stan']}, unite {meta['unite']} (float64, "
        f"analytic). {meta['spectrum']}; {meta['line']}. Every parameter Fixed; "
        "`make_spectra_tables` of the built model (one draw). Relative differences over "
        f"the pixels where unite's component exceeds {meta['floor']:g} of its peak; absolute "
        "ones over the peak. scipy: an independent reference (benchmarks/parity_components.py): "
        "for a line, the LSF-convolved profile's cumulative at each pixel edge (with that "
        "edge's LSF) by `scipy.integrate.quad`; for a continuum, the form's pixel average by "
        "`quad` (convolved with the region's LSF where the form uses it; the value at the "
        "pixel centre for the midpoint-rule forms), as both likelihoods use it, with "
        "astropy's physical constants. Target: "
        f"≤ {meta['target']:g} relative.",
        "",
        "| component | column | max rel diff | max abs diff / peak | unite_stan vs scipy "
        "| unite vs scipy | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        if "errors" in row:
            text = "; ".join(f"{k}: {v}" for k, v in row["errors"].items())
            lines.append(f"| {row['case']} | – | – | – | – | – | {text} |")
            continue
        if not row["shown"]:
            continue
        kind, name = row["case"].split(":")
        column = row["component"] if row["role"] != "total" else "model_total"
        scipy_a = row.get("unite_stan_vs_scipy", {}).get("max_rel")
        scipy_b = row.get("unite_vs_scipy", {}).get("max_rel")
        lines.append(
            f"| {name} ({'line' if kind == 'profile' else 'continuum'}) | {column} "
            f"| {_fmt(row['max_rel'])} | {_fmt(row['max_abs_over_peak'])} | {_fmt(scipy_a)} "
            f"| {_fmt(scipy_b)} | {_note(row)} |"
        )
    lines += [
        "",
        "Lines' differences from scipy of 1e-10 to 2e-9 are at pixels near 1e-6 of the peak: "
        "the rounding of a difference of two cumulatives near 0 or 1 (2e-16 over a pixel's "
        "share of the flux, 1e-7 there), alike in both packages.",
    ]
    hidden = [r for r in result["rows"] if "errors" not in r and not r["shown"]]
    if hidden:
        worst = max(hidden, key=lambda r: r["max_rel"])
        lines += [
            "",
            "Not shown (in the JSON): the Linear continuum of the line cases and the Gaussian "
            f"line of the continuum cases; the largest of their differences: "
            f"{_fmt(worst['max_rel'])} relative ({worst['component']} of {worst['case']}).",
        ]
    if meta["without_case"]:
        lines += ["", f"Registered without a case here: {', '.join(meta['without_case'])}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--unite-python", default=os.environ.get("UNITE_PYTHON", "/opt/unite-venv/bin/python")
    )
    parser.add_argument("--only", nargs="*", help="cases, e.g. profile:SEMG form:PowerLaw")
    parser.add_argument("--no-reference", action="store_true", help="skip the scipy references")
    parser.add_argument(
        "--unite-stan-root", default=str(REPO), help="the checkout whose unite_stan is compared"
    )
    parser.add_argument("--out", default=str(HERE / "results" / "parity_components"))
    # worker mode (one package per process)
    parser.add_argument("--stack", choices=("unite", "unite_stan"), help=argparse.SUPPRESS)
    parser.add_argument("--cases", help=argparse.SUPPRESS)
    parser.add_argument("--aux", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.stack:
        worker(opts.stack, json.loads(Path(opts.cases).read_text()), opts.aux, opts.result)
        return

    with tempfile.TemporaryDirectory(prefix="parity_components_") as aux:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([opts.unite_stan_root, os.environ.get("PYTHONPATH", "")]),
        }
        plain_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        listing = subprocess.run(
            [
                sys.executable,
                "-c",
                "import parity_components as p, json; print(json.dumps(p.unite_stan_cases()))",
            ],
            capture_output=True,
            text=True,
            cwd=HERE,
            env=env,
            check=True,
        )
        cases, missing = json.loads(listing.stdout)
        if opts.only:
            cases = [c for c in cases if c in opts.only]
        write_template(aux)
        cases_file = Path(aux) / "cases.json"
        cases_file.write_text(json.dumps(cases))
        outputs = {}
        for stack, python in (("unite_stan", sys.executable), ("unite", opts.unite_python)):
            result = Path(aux) / f"{stack}.json"
            subprocess.run(
                [
                    python,
                    str(Path(__file__).resolve()),
                    "--stack",
                    stack,
                    "--cases",
                    str(cases_file),
                    "--aux",
                    aux,
                    "--result",
                    str(result),
                ],
                env=env if stack == "unite_stan" else plain_env,
                check=True,
            )
            outputs[stack] = json.loads(result.read_text())
        result = analyse(
            cases, outputs["unite_stan"], outputs["unite"], missing, not opts.no_reference, aux
        )
    out = Path(opts.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    text = markdown(result)
    out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
