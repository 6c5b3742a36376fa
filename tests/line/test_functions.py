"""The numpy profile kernels against integration, independent references and the spec's reductions.

Tolerances are the measured worst cases (numpy 2.4 / scipy 1.17) rounded up by about a factor of
ten (by less where they measure an approximation, e.g. Ida's CDF against the exact Voigt), so a
regression of the numerics shows; the measured values are in the comments.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.integrate import quad
from scipy.special import voigt_profile

from unite_stan.constants import FWHM_TO_SIGMA
from unite_stan.line import functions as F

LSF = 0.3
LN2 = math.log(2.0)

# Parameter sets per profile: ordinary ones and the extremes a fit can reach (a width 1e-6 of
# the others, |alpha| up to 300, |h3|, |h4| = 0.3, Laplace wings narrow enough for the guards).
CASES = {
    "Gaussian": [dict(fwhm_gauss=1.0), dict(fwhm_gauss=1e-6)],
    "Cauchy": [dict(fwhm_lorentz=1.0), dict(fwhm_lorentz=1e-6)],
    "PseudoVoigt": [
        dict(fwhm_gauss=1.0, fwhm_lorentz=0.5),
        dict(fwhm_gauss=1e-6, fwhm_lorentz=1.0),
        dict(fwhm_gauss=1.0, fwhm_lorentz=1e-6),
    ],
    "Laplace": [dict(fwhm_exp=1.0), dict(fwhm_exp=1e-6)],
    "SEMG": [
        dict(fwhm_gauss=1.0, fwhm_exp=1.0),
        dict(fwhm_gauss=1.0, fwhm_exp=0.05),
        dict(fwhm_gauss=1e-6, fwhm_exp=1.0),
        dict(fwhm_gauss=1.0, fwhm_exp=1e-6),
    ],
    "GaussHermite": [dict(fwhm_gauss=1.0, h3=h3, h4=h4) for h3 in (-0.3, 0.3) for h4 in (-0.3, 0.3)]
    + [dict(fwhm_gauss=1e-6, h3=0.3, h4=0.3)],
    "SplitNormal": [dict(fwhm_blue=1.0, fwhm_red=3.0), dict(fwhm_blue=3.0, fwhm_red=1e-6)],
    "BoxGauss": [
        dict(fwhm_box=2.0, fwhm_gauss=0.5),
        dict(fwhm_box=1e-6, fwhm_gauss=1.0),
        dict(fwhm_box=1e-3, fwhm_gauss=1.0),
        dict(fwhm_box=30.0, fwhm_gauss=1e-6),
    ],
    "SkewNormal": [dict(fwhm_gauss=1.0, alpha=a) for a in (-300.0, -5.0, 0.0, 2.0, 300.0)]
    + [dict(fwhm_gauss=1e-6, alpha=300.0)],
    "GaussianSplitLaplace": [
        dict(fwhm_gauss=1.0, fwhm_l_blue=1.0, fwhm_l_red=0.3),
        dict(fwhm_gauss=0.1, fwhm_l_blue=2.0, fwhm_l_red=0.01),
        dict(fwhm_gauss=1e-6, fwhm_l_blue=1.0, fwhm_l_red=2.0),
        dict(fwhm_gauss=1.0, fwhm_l_blue=1e-6, fwhm_l_red=1e-6),
    ],
}
# The CDF of these is Ida et al.'s approximation while the density is the exact Voigt
IDA = {"Cauchy", "PseudoVoigt"}
EXACT = [name for name in CASES if name not in IDA]


def all_cases(names=CASES):
    return [pytest.param(n, p, id=f"{n}-{i}") for n in names for i, p in enumerate(CASES[n])]


def scale(params) -> float:
    """A width of the whole profile, so that the x grids follow the parameters."""
    widths = [v for k, v in params.items() if k.startswith("fwhm")]
    return math.hypot(LSF, max(widths))


def breakpoints(name, params):
    """Where the density has features quad should not step over (the centre, box edges)."""
    points = [0.0]
    if name == "BoxGauss":
        points += [-params["fwhm_box"] / 2, params["fwhm_box"] / 2]
    return points


def integrate(f, a, b, points):
    inner = sorted(p for p in points if a < p < b)
    edges = [a, *inner, b]
    return sum(
        quad(f, lo, hi, epsabs=0.0, epsrel=1e-13, limit=500)[0]
        for lo, hi in zip(edges[:-1], edges[1:], strict=True)
    )


def normal(sigma):
    """Scalar N(0, σ) density and CDF from ``math`` (quad calls them thousands of times)."""
    norm = 1.0 / (sigma * math.sqrt(2.0 * math.pi))
    return (
        lambda v: norm * math.exp(-0.5 * (v / sigma) ** 2),
        lambda v: 0.5 * math.erfc(-v / (sigma * math.sqrt(2.0))),
    )


def convolution(f, kernel, x, lo=-np.inf, hi=np.inf):
    """∫ f(y) kernel(x − y) dy over (lo, hi), split at 0 and x."""
    return integrate(lambda y: f(y) * kernel(x - y), lo, hi, [0.0, x])


PAIRS = [(-3, -1), (-1, 0.5), (0.2, 5), (-0.01, 0.01), (-40, -5), (5, 40), (-1e3, -40)]


# --- 1. integration, tails, monotonicity --------------------------------------------------------


GUARDED = {"Laplace", "SEMG", "GaussianSplitLaplace"}  # the kernels taking t_max


def integration_cases():
    """Every exact profile; the guarded ones with unite's guards and without."""
    cases = []
    for name in EXACT:
        for i, params in enumerate(CASES[name]):
            if name in GUARDED:
                for label, t_max in (("guarded", F.T_MAX), ("exact", np.inf)):
                    extra = {"t_max": t_max}
                    cases.append(pytest.param(name, params, extra, id=f"{name}-{i}-{label}"))
            else:
                cases.append(pytest.param(name, params, {}, id=f"{name}-{i}"))
    return cases


@pytest.mark.parametrize(("name", "params", "extra"), integration_cases())
def test_pdf_integrates_to_cdf_difference(name, params, extra):
    kernels = F.KERNELS[name]
    s = scale(params)
    points = breakpoints(name, params)
    worst = 0.0
    for a, b in PAIRS:
        a, b = a * s, b * s
        integral = integrate(
            lambda v: float(kernels.pdf(v, **params, lsf=LSF, **extra)), a, b, points
        )
        cdf = kernels.cdf(np.array([a, b]), **params, lsf=LSF, **extra)
        # 2 ulp of 1 absolute: a CDF near 1 cannot resolve smaller differences
        err = abs(integral - (cdf[1] - cdf[0])) - 4.5e-16
        worst = max(worst, err / abs(integral) if integral else err)
    # measured: 6.8e-14 relative for BoxGauss with fwhm_box = 1e-3 (the direct difference just
    # above the series threshold); every other case within 2 ulp of 1 absolute
    assert worst <= 1e-12


@pytest.mark.parametrize(("name", "params"), all_cases(IDA))
def test_ida_density_integrates_to_cdf_difference(name, params):
    """The extended pseudo-Voigt CDF is the integral of its own four-component density."""
    gauss = math.hypot(LSF, params.get("fwhm_gauss", 0.0))
    lorentz = params["fwhm_lorentz"]
    s = scale(params)
    for a, b in PAIRS:
        a, b = a * s, b * s
        integral = integrate(lambda v: float(F._ida_pdf(v, gauss, lorentz)), a, b, [0.0])
        cdf = F.KERNELS[name].cdf(np.array([a, b]), **params, lsf=LSF)
        # measured: 3.3e-16 absolute
        assert abs(integral - (cdf[1] - cdf[0])) <= 2e-15 + 1e-12 * integral


@pytest.mark.parametrize(("name", "params"), all_cases(EXACT))
def test_cdf_tails_are_exactly_0_and_1(name, params):
    s = scale(params)
    cdf = F.KERNELS[name].cdf(np.array([-1e4 * s, 1e4 * s]), **params, lsf=LSF)
    assert cdf[0] == 0.0
    assert cdf[1] == 1.0


@pytest.mark.parametrize(
    ("name", "params", "tail"),
    # measured 1 − C(1e4 s) and C(−1e4 s), s = hypot(lsf, widest width): Lorentzian wings
    [
        ("PseudoVoigt", dict(fwhm_gauss=1.0, fwhm_lorentz=0.5), 7.3485850e-06),
        ("Cauchy", dict(fwhm_lorentz=1.0), 1.5146081e-05),
    ],
)
def test_ida_cdf_tails_tend_slowly(name, params, tail):
    s = scale(params)
    cdf = F.KERNELS[name].cdf(np.array([-1e4 * s, 1e4 * s]), **params, lsf=LSF)
    assert cdf[0] == pytest.approx(tail, rel=1e-7)
    assert 1.0 - cdf[1] == pytest.approx(tail, rel=1e-7)


@pytest.mark.parametrize(("rho", "tail"), [(0.2, 0.00205293), (0.5, 0.00520468), (1.0, 0.0106064)])
def test_ida_cdf_at_15_total_fwhm(rho, tail):
    """Spec §3.6.2 quotes ≈ 0.003 / 0.997 at ±15 W (W = G + W_L); it depends on rho = W_L / W."""
    cdf = F.pseudovoigt_cdf(np.array([-15.0, 15.0]), fwhm_gauss=1 - rho, fwhm_lorentz=rho, lsf=0)
    assert cdf[0] == pytest.approx(tail, rel=1e-5)
    assert 1.0 - cdf[1] == pytest.approx(tail, rel=1e-5)


def dense_grid(s):
    tail = np.logspace(-4, 4, 400) * s
    return np.sort(np.concatenate([-tail, np.linspace(-20 * s, 20 * s, 4001), tail]))


@pytest.mark.parametrize(("name", "params"), all_cases())
def test_cdf_monotone_where_density_is_positive(name, params):
    x = dense_grid(scale(params))
    cdf = F.KERNELS[name].cdf(x, **params, lsf=LSF)
    step = np.diff(cdf)
    if name == "GaussHermite":
        # the series goes negative for large |h3|, |h4|: the CDF falls exactly there
        pdf = F.KERNELS[name].pdf(x, **params, lsf=LSF)
        negative = (pdf[1:] < 0) & (pdf[:-1] < 0)
        positive = (pdf[1:] > 0) & (pdf[:-1] > 0)
        assert np.all(step[negative] <= 1e-17)
        step = step[positive]
    # measured: -1.1e-16 (SkewNormal alpha < 0 just below 1: half an ulp of 1)
    assert step.min() >= -2.3e-16


# --- 2. independent references ------------------------------------------------------------------

XS = np.concatenate([-np.logspace(-3, 1.5, 60), [0.0], np.logspace(-3, 1.5, 60)])


def relative(a, b):
    return np.max(np.abs(a - b) / np.abs(b))


def test_gaussian_against_scipy_norm():
    for w, lsf in [(1.0, 0.3), (1e-6, 0.3), (2.0, 0.0)]:
        sigma = math.hypot(w, lsf) * FWHM_TO_SIGMA
        cdf = F.gaussian_cdf(XS, fwhm_gauss=w, lsf=lsf)
        pdf = F.gaussian_pdf(XS, fwhm_gauss=w, lsf=lsf)
        ref = stats.norm(scale=sigma)
        keep = ref.pdf(XS) > 1e-300
        # measured: 1.1e-13 relative at z ≈ -70, where erfc amplifies the rounding of its
        # argument (k x / G here, x / σ√2 in scipy) by 2z²
        assert relative(cdf[keep], ref.cdf(XS)[keep]) <= 1e-12
        assert relative(pdf[keep], ref.pdf(XS)[keep]) <= 1e-12


@pytest.mark.parametrize("alpha", [-300.0, -5.0, 0.0, 2.0, 300.0])
def test_skewnormal_without_lsf_against_scipy_skewnorm(alpha):
    ref = stats.skewnorm(alpha, scale=FWHM_TO_SIGMA)
    pdf = F.skewnormal_pdf(XS, fwhm_gauss=1.0, alpha=alpha, lsf=0.0)
    keep = ref.pdf(XS) > 1e-290
    # measured: 2.3e-13 relative
    assert relative(pdf[keep], ref.pdf(XS)[keep]) <= 2e-12
    cdf = F.skewnormal_cdf(XS, fwhm_gauss=1.0, alpha=alpha, lsf=0.0)
    # measured: 4.3e-15 absolute, except 5.9e-9 at alpha = 300 just left of the centre, where
    # scipy's skewnorm.cdf is the inaccurate one (mpmath: 9.7257155306e-09 at z = -0.0138; ours
    # 9.7257155664e-09, scipy 3.8e-09)
    assert np.max(np.abs(cdf - ref.cdf(XS))) <= (1e-8 if abs(alpha) > 100 else 5e-14)


def test_skewnormal_lsf_convolution_against_numerical_convolution():
    """alpha_eff is exact: a skew normal convolved with a Gaussian LSF is a skew normal."""
    for alpha in (-300.0, 3.0):
        w, lsf = 1.0, 0.6
        s = w * FWHM_TO_SIGMA
        pdf, cdf = normal(s)
        lsf_pdf = normal(lsf * FWHM_TO_SIGMA)[0]

        def sn(y, pdf=pdf, cdf=cdf, alpha=alpha):
            return 2.0 * pdf(y) * cdf(alpha * y)

        for x in (-1.5, -0.3, 0.0, 0.4, 1.2):
            ref = convolution(sn, lsf_pdf, x, -10, 10)
            got = F.skewnormal_pdf(x, fwhm_gauss=w, alpha=alpha, lsf=lsf)
            # measured: 5.3e-15 relative
            assert got == pytest.approx(ref, rel=1e-13)


def test_laplace_without_lsf_against_scipy_laplace():
    b = 1.0 / (2.0 * LN2)  # FWHM 1
    ref = stats.laplace(scale=b)
    pdf = F.laplace_pdf(XS, fwhm_exp=1.0, lsf=0.0)
    # exactly 0 LSF is the Laplace limit itself (unite: NaN); measured 3.5e-15 at x = -13
    # (exp amplifies the rounding of λ|x|)
    assert relative(pdf, ref.pdf(XS)) <= 3e-14
    # the CDF needs an LSF > 0; 1e-12 of the width smooths the kink by less than 1e-12
    cdf = F.laplace_cdf(XS, fwhm_exp=1.0, lsf=1e-12)
    keep = XS != 0
    # measured: 3.5e-15 relative
    assert relative(cdf[keep], ref.cdf(XS[keep])) <= 3e-14
    assert cdf[~keep] == 0.5
    # and the density at LSF = 1e-10 (the tau normalisation) is the Laplace peak
    assert F.laplace_pdf(0.0, fwhm_exp=1.0, lsf=1e-10) == pytest.approx(LN2, rel=1e-9)


def semg_convolution(x, fwhm_gauss, fwhm_exp, lsf, cumulative):
    sigma = math.hypot(lsf, fwhm_gauss) * FWHM_TO_SIGMA
    lam = 2 * LN2 / fwhm_exp
    pdf, cdf = normal(sigma)
    return convolution(lambda y: 0.5 * lam * math.exp(-lam * abs(y)), cdf if cumulative else pdf, x)


@pytest.mark.parametrize(
    ("fwhm_gauss", "fwhm_exp", "tol"),
    # measured worst relative errors (pdf, cdf): 7.8e-16, 3.6e-14 (a = 8.7), 8.9e-16,
    # 6.6e-14 (a = 21.7, exact kernel)
    [(1.0, 1.0, 1e-14), (1.0, 0.05, 3e-13), (0.01, 1.0, 1e-14), (1.0, 0.02, 5e-13)],
)
def test_semg_against_numerical_convolution(fwhm_gauss, fwhm_exp, tol):
    for x in (-8.0, -3.0, -1.0, -0.2, 0.0, 0.4, 2.0, 6.0):
        kw = dict(fwhm_gauss=fwhm_gauss, fwhm_exp=fwhm_exp, lsf=LSF, t_max=np.inf)
        ref_pdf = semg_convolution(x, fwhm_gauss, fwhm_exp, LSF, False)
        ref_cdf = semg_convolution(x, fwhm_gauss, fwhm_exp, LSF, True)
        assert F.semg_pdf(x, **kw) == pytest.approx(ref_pdf, rel=tol)
        assert F.semg_cdf(x, **kw) == pytest.approx(ref_cdf, rel=tol)


def test_gaussiansplitlaplace_against_numerical_convolution():
    """Gaussian ⊛ asymmetric Laplace (rates λ_r = 2 ln 2 / W_r on the red side)."""
    for fwhm_gauss, w_b, w_r in [(1.0, 1.0, 0.3), (0.1, 2.0, 0.05), (1.0, 0.2, 3.0)]:
        lam_r, lam_b = 2 * LN2 / w_r, 2 * LN2 / w_b
        peak = lam_r * lam_b / (lam_r + lam_b)

        def asym(y, lam_r=lam_r, lam_b=lam_b, peak=peak):
            return peak * math.exp(-lam_r * y if y > 0 else lam_b * y)

        # the same density as scipy's laplace_asymmetric(kappa, scale)
        ref = stats.laplace_asymmetric(math.sqrt(lam_r / lam_b), scale=1 / math.sqrt(lam_r * lam_b))
        grid = np.linspace(-5, 5, 101)
        assert [asym(y) for y in grid] == pytest.approx(ref.pdf(grid), rel=1e-14)
        norm_pdf, norm_cdf = normal(math.hypot(LSF, fwhm_gauss) * FWHM_TO_SIGMA)
        kw = dict(fwhm_gauss=fwhm_gauss, fwhm_l_blue=w_b, fwhm_l_red=w_r, lsf=LSF)
        for x in (-6.0, -1.0, -0.1, 0.0, 0.5, 3.0, 10.0):
            ref_pdf = convolution(asym, norm_pdf, x)
            ref_cdf = convolution(asym, norm_cdf, x)
            # measured: 4.2e-14 (pdf), 2.2e-15 (cdf) relative
            assert F.gaussiansplitlaplace_pdf(x, **kw) == pytest.approx(ref_pdf, rel=3e-13)
            assert F.gaussiansplitlaplace_cdf(x, **kw) == pytest.approx(ref_cdf, rel=3e-14)


@pytest.mark.parametrize(("h3", "h4"), [(0.3, -0.3), (-0.3, 0.3), (0.1, 0.05)])
def test_gausshermite_against_the_defining_series(h3, h4):
    """The intrinsic series φ(y)[1 + h3 He3/√6 + h4 He4/√24], convolved with the LSF numerically."""
    w, lsf = 1.0, 0.7
    s_int = w * FWHM_TO_SIGMA

    def intrinsic(y):
        u = y / s_int
        he3, he4 = u**3 - 3 * u, u**4 - 6 * u**2 + 3
        return (
            np.exp(-0.5 * u * u)
            / (s_int * math.sqrt(2 * math.pi))
            * (1 + h3 * he3 / math.sqrt(6) + h4 * he4 / math.sqrt(24))
        )

    # measured: 1.0e-15 relative
    assert F.gausshermite_pdf(XS, fwhm_gauss=w, h3=h3, h4=h4, lsf=0.0) == pytest.approx(
        intrinsic(XS), rel=1e-14, abs=1e-300
    )
    lsf_pdf = normal(lsf * FWHM_TO_SIGMA)[0]
    for x in (-2.0, -0.5, 0.0, 0.3, 1.7):
        ref = convolution(intrinsic, lsf_pdf, x, -12, 12)
        got = F.gausshermite_pdf(x, fwhm_gauss=w, h3=h3, h4=h4, lsf=lsf)
        # measured: 3.3e-16 absolute (peak density 0.9)
        assert got == pytest.approx(ref, abs=3e-15)


def test_boxgauss_against_numerical_convolution():
    for w_box, w_g in [(2.0, 0.5), (1e-3, 1.0), (1e-7, 1.0), (30.0, 0.01)]:
        sigma = math.hypot(LSF, w_g) * FWHM_TO_SIGMA
        h = w_box / 2
        norm_pdf, norm_cdf = normal(sigma)
        kw = dict(fwhm_box=w_box, fwhm_gauss=w_g, lsf=LSF)
        for x in (-20.0, -3.0, -1.0, -0.01, 0.0, 0.6, 2.5, 16.0):
            ref_pdf = convolution(np.ones_like, norm_pdf, x, -h, h) / w_box
            ref_cdf = convolution(np.ones_like, norm_cdf, x, -h, h) / w_box
            # measured: 3.0e-13 (pdf), 6.9e-13 (cdf) relative, in the far tail (x = -20, u = -45:
            # erfc turns the rounding of its argument into 2u² times as much)
            assert F.boxgauss_pdf(x, **kw) == pytest.approx(ref_pdf, rel=5e-12, abs=1e-300)
            assert F.boxgauss_cdf(x, **kw) == pytest.approx(ref_cdf, rel=5e-12, abs=1e-300)
    # the spec's 0/0 at fwhm_box = 0 is the Gaussian limit here
    assert F.boxgauss_pdf(XS, fwhm_box=0.0, fwhm_gauss=1.0, lsf=LSF) == pytest.approx(
        F.gaussian_pdf(XS, fwhm_gauss=1.0, lsf=LSF), rel=1e-15
    )


def test_splitnormal_is_two_half_gaussians():
    w_b, w_r = 1.0, 3.0
    blue, red = math.hypot(LSF, w_b), math.hypot(LSF, w_r)
    nb, nr = stats.norm(scale=blue * FWHM_TO_SIGMA), stats.norm(scale=red * FWHM_TO_SIGMA)
    weight_b = blue / (blue + red)
    cdf_ref = np.where(
        XS <= 0, 2 * weight_b * nb.cdf(XS), weight_b + (1 - weight_b) * (2 * nr.cdf(XS) - 1)
    )
    # a density continuous at 0: each half-Gaussian scaled to its side's mass
    pdf_ref = np.where(XS <= 0, 2 * weight_b * nb.pdf(XS), 2 * (1 - weight_b) * nr.pdf(XS))
    kw = dict(fwhm_blue=w_b, fwhm_red=w_r, lsf=LSF)
    keep = pdf_ref > 1e-300
    # measured: 1.1e-13 relative in the far lower tail (as for the Gaussian)
    assert relative(F.splitnormal_cdf(XS, **kw)[keep], cdf_ref[keep]) <= 1e-12
    assert relative(F.splitnormal_pdf(XS, **kw)[keep], pdf_ref[keep]) <= 1e-12


def voigt_cdf(x, sigma, gamma):
    if x > 0:
        return 1.0 - voigt_cdf(-x, sigma, gamma)
    return quad(lambda v: voigt_profile(v, sigma, gamma), -np.inf, x, epsabs=1e-15, limit=500)[0]


def test_voigt_density_against_scipy_voigt_profile():
    x = np.linspace(-50, 50, 1001)
    for sigma, gamma in [(0.3, 0.2), (1e-12, 1.0), (2.0, 1e-9)]:
        fwhm_g = sigma / FWHM_TO_SIGMA
        got = F.pseudovoigt_pdf(x, fwhm_gauss=fwhm_g, fwhm_lorentz=2 * gamma, lsf=0.0)
        # measured: 1.4e-14 relative
        assert relative(got, voigt_profile(x, sigma, gamma)) <= 1e-13
    # sigma = 0 (Cauchy in convolution mode): the Lorentzian, not unite's NaN
    got = F.cauchy_pdf(np.array([0.0, 1.0, 1e4]), fwhm_lorentz=1.0, lsf=0.0)
    assert got == pytest.approx(0.5 / np.pi / (np.array([0.0, 1.0, 1e8]) + 0.25), rel=1e-15)


def test_ida_cdf_against_integrated_exact_voigt():
    """Ida et al.'s approximation against the exact Voigt CDF, W = G + W_L = 1."""
    x = np.linspace(-10, 10, 41)
    worst = {}
    for rho in (0.0, 0.05, 0.2, 0.5, 0.8, 0.95, 1.0):
        gauss, lorentz = 1.0 - rho, rho
        got = (
            F.cauchy_cdf(x, fwhm_lorentz=1.0, lsf=0.0)
            if rho == 1.0
            else F.pseudovoigt_cdf(x, fwhm_gauss=gauss, fwhm_lorentz=lorentz, lsf=0.0)
        )
        ref = [voigt_cdf(v, max(gauss, 1e-300) * FWHM_TO_SIGMA, lorentz / 2) for v in x]
        worst[rho] = np.max(np.abs(got - ref))
    # measured 1.1e-16, 2.5e-5, 1.0e-4, 1.5e-4, 5.0e-5, 3.2e-6, 3.1e-15: exact at both ends
    # (to the reference's quad)
    assert worst[0.0] <= 3e-14 and worst[1.0] <= 3e-14
    assert max(worst.values()) <= 2e-4


def test_ida_cdf_with_lsf_against_integrated_exact_voigt():
    """The LSF goes into the Gaussian part only, like the exact convolution would."""
    x = np.linspace(-6, 6, 13)
    got = F.pseudovoigt_cdf(x, fwhm_gauss=0.5, fwhm_lorentz=0.8, lsf=LSF)
    ref = [voigt_cdf(v, math.hypot(0.5, LSF) * FWHM_TO_SIGMA, 0.4) for v in x]
    # measured: 1.25e-4
    assert np.max(np.abs(got - ref)) <= 2e-4


# --- SkewVoigt ----------------------------------------------------------------------------------

EDGES = np.linspace(-30.0, 30.0, 6001)  # pixel 0.01, a few FWHM of 1


def test_skewvoigt_without_skew_is_the_pseudovoigt_per_pixel():
    lsf = 0.2 + 0.001 * EDGES  # an LSF varying along the spectrum
    cum = F.skewvoigt_cdf(EDGES, fwhm_gauss=1.0, fwhm_lorentz=0.5, alpha=0.0, lsf=lsf)
    pv = F.pseudovoigt_cdf(EDGES, fwhm_gauss=1.0, fwhm_lorentz=0.5, lsf=lsf)
    assert cum[0] == 0.0
    # measured 5.6e-17: cumsum of differences
    assert np.max(np.abs(cum - (pv - pv[0]))) <= 1e-15


def test_skewvoigt_without_lorentzian_is_the_skewnormal():
    """W_L = 0: the boost is 0 and alpha_eff is SkewNormal's, so the density is the skew normal."""
    for alpha in (-5.0, 0.7, 5.0):
        kw = dict(fwhm_gauss=1.0, alpha=alpha, lsf=LSF)
        pdf = F.skewvoigt_pdf(XS, fwhm_lorentz=0.0, **kw)
        ref = F.skewnormal_pdf(XS, **kw)
        keep = ref > 1e-300
        # measured: 2.3e-13 relative, far tail (the two compute the skew factor differently)
        assert relative(pdf[keep], ref[keep]) <= 2e-12
        # the per-pixel cumulative is a midpoint rule of the same: error O(pixel²)
        errors = []
        for edges in (EDGES, np.linspace(-30.0, 30.0, 12001)):
            cum = F.skewvoigt_cdf(edges, fwhm_lorentz=0.0, **kw)
            sn = F.skewnormal_cdf(edges, **kw)
            errors.append(np.max(np.abs(cum - (sn - sn[0]))))
        # measured (pixel 0.01): 2.06e-5 (|alpha| = 5), 7.5e-6 (0.7); a quarter at half the pixel
        assert errors[0] <= 3e-5
        assert errors[0] / errors[1] == pytest.approx(4.0, rel=0.01)


@pytest.mark.parametrize("alpha", [-5.0, -1.0, 0.3, 5.0])
def test_skewvoigt_cumulative_agrees_with_its_density(alpha):
    """Normalisation is only approximate (spec): Ida's CDF vs the exact Voigt and a boost."""
    kw = dict(fwhm_gauss=1.0, fwhm_lorentz=0.5, alpha=alpha)
    cum = F.skewvoigt_cdf(EDGES, **kw, lsf=LSF)
    total = integrate(lambda v: float(F.skewvoigt_pdf(v, **kw, lsf=LSF)), -30, 30, [0.0])
    # measured: cum[-1] − ∫pdf = 1.49e-4 for every alpha (Ida's CDF against the exact Voigt),
    # ∫pdf = 1 − 0.0053 (the Lorentzian wings beyond ±30)
    assert cum[-1] - total == pytest.approx(1.49e-4, rel=0.01)
    assert total - 1.0 == pytest.approx(-0.0053, rel=0.01)
    assert np.all(np.diff(cum) >= 0.0)


def test_skewvoigt_centre_lsf_is_interpolated_and_clamped():
    x = np.array([[-2.0, -1.0, 1.0, 3.0], [1.0, 2.0, 3.0, 4.0]])
    lsf = np.array([[0.1, 0.2, 0.4, 0.5], [0.1, 0.2, 0.4, 0.5]])
    got = F._interp_at_centre(x, lsf)
    assert got[:, 0] == pytest.approx([np.interp(0, x[0], lsf[0]), np.interp(0, x[1], lsf[1])])
    assert got[:, 0] == pytest.approx([0.3, 0.1])


def test_skewvoigt_cumulative_broadcasts_over_lines():
    """Leading axes are independent lines: the same as one call per row."""
    x = np.stack([EDGES, EDGES - 2.0])
    lsf = 0.2 + 0.001 * x
    widths = dict(fwhm_gauss=np.array([[1.0], [0.4]]), fwhm_lorentz=np.array([[0.5], [0.1]]))
    alpha = np.array([[2.0], [-3.0]])
    both = F.skewvoigt_cdf(x, **widths, alpha=alpha, lsf=lsf)
    for row in range(2):
        one = F.skewvoigt_cdf(
            x[row],
            fwhm_gauss=widths["fwhm_gauss"][row, 0],
            fwhm_lorentz=widths["fwhm_lorentz"][row, 0],
            alpha=alpha[row, 0],
            lsf=lsf[row],
        )
        assert np.array_equal(both[row], one)


def test_skewvoigt_boost_is_capped():
    """unite's boost overflows (alpha_eff = inf) as the Gaussian width or alpha go to 0."""
    # a Gaussian width 1e-6 (LSF 0.3): log_boost 21918; alpha = 1e-12 (W_g = LSF): 594.8
    assert F._skewvoigt_log_boost(1.0, 1e-6, 1.0, LSF) == pytest.approx(21917.6, rel=1e-5)
    assert F._skewvoigt_log_boost(1e-12, 0.3, 1.0, LSF) == pytest.approx(594.75, rel=1e-5)
    for alpha, fwhm_gauss in [(1.0, 1e-6), (1e-12, 0.3), (-1e-12, 0.3), (1e-300, 0.3), (0.0, 0.3)]:
        alpha_eff, w0 = F._skewvoigt_alpha(alpha, fwhm_gauss, 1.0, LSF)
        assert np.isfinite(alpha_eff)
        assert abs(alpha_eff) <= abs(alpha) * math.exp(F.LOG_BOOST_CAP)
    # alpha_eff is continuous through alpha = 0 (unite's jumps from -inf to +inf there)
    a_minus = F._skewvoigt_alpha(-1e-30, 0.3, 1.0, LSF)[0]
    a_plus = F._skewvoigt_alpha(1e-30, 0.3, 1.0, LSF)[0]
    assert -1e-7 < a_minus < 0 < a_plus < 1e-7
    # far below the cap the value is unite's to the last bit
    raw = F._skewvoigt_log_boost(2.0, 1.0, 0.5, LSF)
    assert raw < 1
    assert -np.logaddexp(-raw, -F.LOG_BOOST_CAP) == raw


# --- 3. reductions stated by the spec -----------------------------------------------------------


def test_gaussiansplitlaplace_with_equal_sides_is_semg():
    x = dense_grid(1.0)
    for w_g, w_e in [(1.0, 1.0), (1.0, 0.05), (1e-6, 1.0), (1.0, 0.02), (1.0, 1e-4)]:
        kw = dict(fwhm_gauss=w_g, lsf=LSF, t_max=np.inf)
        gsl = dict(fwhm_l_blue=w_e, fwhm_l_red=w_e)
        cdf_gsl = F.gaussiansplitlaplace_cdf(x, **gsl, **kw)
        cdf_semg = F.semg_cdf(x, fwhm_exp=w_e, **kw)
        pdf_gsl = F.gaussiansplitlaplace_pdf(x, **gsl, **kw)
        pdf_semg = F.semg_pdf(x, fwhm_exp=w_e, **kw)
        keep = pdf_semg > 1e-300
        # exact kernels: measured 1.1e-16 absolute (cdf), 0 (pdf)
        assert np.max(np.abs(cdf_gsl - cdf_semg)) <= 2e-15
        assert relative(pdf_gsl[keep], pdf_semg[keep]) <= 1e-13


def test_gaussiansplitlaplace_and_semg_guards_differ():
    """With unite's guards the reduction holds only where no guard acts (a ≤ ~20).

    SEMG drops the first product for |t| + a > T_MAX, GaussianSplitLaplace drops J for
    a(a − 2t) > T_MAX²; they coincide only at a = T_MAX.
    """
    x = dense_grid(1.0)
    measured = {}
    for w_e in (1.0, 0.05, 0.02, 0.0175, 0.016, 1e-4):
        kw = dict(fwhm_gauss=1.0, lsf=LSF)
        gsl = F.gaussiansplitlaplace_cdf(x, fwhm_l_blue=w_e, fwhm_l_red=w_e, **kw)
        measured[w_e] = np.max(np.abs(gsl - F.semg_cdf(x, fwhm_exp=w_e, **kw)))
        gsl_pdf = F.gaussiansplitlaplace_pdf(x, fwhm_l_blue=w_e, fwhm_l_red=w_e, **kw)
        # the densities agree: GaussianSplitLaplace uses SEMG's fallback, not the J guard
        pdf = F.semg_pdf(x, fwhm_exp=w_e, **kw)
        keep = pdf > 1e-300
        assert relative(gsl_pdf[keep], pdf[keep]) <= 1e-13
    # measured: 0, 1.1e-16, 6.3e-11 (a = 21.7), 1.35e-3 (a = 24.8), 1.45e-3 (a = 27.2 > T_MAX:
    # SEMG drops all, GSL only where a(a − 2t) > T_MAX²), 0 (a = 4346: both drop everything)
    assert measured[1.0] <= 1e-15 and measured[0.05] <= 1e-15 and measured[1e-4] <= 1e-15
    assert measured[0.02] == pytest.approx(6.3e-11, rel=0.05)
    assert measured[0.0175] == pytest.approx(1.35e-3, rel=0.05)
    assert measured[0.016] == pytest.approx(1.45e-3, rel=0.05)


def test_semg_guards_are_unites():
    """The guarded CDF jumps where the guard switches; the exact one is smooth. Measured sizes."""
    kw = dict(fwhm_gauss=1.0, lsf=LSF)
    x = dense_grid(1.0)
    jumps = {}
    for w_e in (0.05, 0.02, 0.0175, 0.016, 1e-4):
        guarded = F.semg_cdf(x, fwhm_exp=w_e, **kw)
        exact = F.semg_cdf(x, fwhm_exp=w_e, **kw, t_max=np.inf)
        jumps[w_e] = np.max(np.abs(guarded - exact))
    # measured: 0 (a = 8.7), 6.3e-11 (a = 21.7, first product dropped for |t| > 4.3),
    # 1.35e-3 (a = 24.8, dropped for |t| > 1.2), 1.64e-4 (a = 27.2, correction dropped),
    # 6.4e-9 (a = 4346)
    assert jumps[0.05] == 0.0
    assert jumps[0.02] == pytest.approx(6.3e-11, rel=0.05)
    assert jumps[0.0175] == pytest.approx(1.35e-3, rel=0.05)
    assert jumps[0.016] == pytest.approx(1.64e-4, rel=0.05)
    assert jumps[1e-4] == pytest.approx(6.4e-9, rel=0.05)
    # density: the Gaussian above a' = T_MAX, 1/(2a²) ≈ 7e-4 relative below the exact at the centre
    a_over = F.semg_pdf(0.0, fwhm_exp=0.016, **kw)
    exact = F.semg_pdf(0.0, fwhm_exp=0.016, **kw, t_max=np.inf)
    assert a_over == F.gaussian_pdf(0.0, fwhm_gauss=1.0, lsf=LSF)
    assert a_over / exact - 1 == pytest.approx(6.8e-4, rel=0.05)


def test_laplace_is_semg_without_gaussian():
    x = dense_grid(1.0)
    for lsf in (0.3, 1e-10):
        assert np.array_equal(
            F.laplace_cdf(x, fwhm_exp=0.7, lsf=lsf),
            F.semg_cdf(x, fwhm_gauss=0.0, fwhm_exp=0.7, lsf=lsf),
        )
        assert np.array_equal(
            F.laplace_pdf(x, fwhm_exp=0.7, lsf=lsf),
            F.semg_pdf(x, fwhm_gauss=0.0, fwhm_exp=0.7, lsf=lsf),
        )


def test_cauchy_is_pseudovoigt_without_gaussian():
    x = dense_grid(1.0)
    for lsf in (0.3, 1e-10, 0.0):
        kw = dict(fwhm_lorentz=0.7, lsf=lsf)
        assert np.array_equal(F.cauchy_cdf(x, **kw), F.pseudovoigt_cdf(x, fwhm_gauss=0.0, **kw))
        assert np.array_equal(F.cauchy_pdf(x, **kw), F.pseudovoigt_pdf(x, fwhm_gauss=0.0, **kw))


# --- tau normalisation --------------------------------------------------------------------------


def test_peak_density():
    assert F.peak_density("Gaussian", fwhm_gauss=2.0) == pytest.approx(
        1 / (2.0 * FWHM_TO_SIGMA * math.sqrt(2 * math.pi)), rel=1e-14
    )
    assert F.peak_density("Cauchy", fwhm_lorentz=2.0) == pytest.approx(1 / np.pi, rel=1e-12)
    assert F.peak_density("Laplace", fwhm_exp=2.0) == pytest.approx(LN2 / 2, rel=1e-9)
    assert F.peak_density("BoxGauss", fwhm_box=2.0, fwhm_gauss=1e-3) == pytest.approx(
        0.5, rel=1e-14
    )
    # narrow wings: unite's J guard gives 0 here (tau -> inf); ours is the Gaussian peak
    narrow = F.peak_density(
        "GaussianSplitLaplace", fwhm_gauss=1.0, fwhm_l_blue=1e-3, fwhm_l_red=1e-3
    )
    assert narrow == F.peak_density("Gaussian", fwhm_gauss=1.0)
    for name, cases in CASES.items():
        for params in cases:
            assert (
                np.isfinite(F.peak_density(name, **params)) and F.peak_density(name, **params) > 0
            )
    with pytest.raises(ValueError, match="unknown profile 'Voigt'"):
        F.peak_density("Voigt", fwhm_gauss=1.0)


def test_kernels_registry_matches_the_spec_slots():
    assert list(F.KERNELS) == [
        "Gaussian",
        "Cauchy",
        "PseudoVoigt",
        "Laplace",
        "SEMG",
        "GaussHermite",
        "SplitNormal",
        "SkewVoigt",
        "BoxGauss",
        "SkewNormal",
        "GaussianSplitLaplace",
    ]
    for name, kernels in F.KERNELS.items():
        if name != "SkewVoigt":
            assert set(kernels.slots) == set(CASES[name][0])
    assert F.KERNELS["BoxGauss"].slots == ("fwhm_box", "fwhm_gauss")
    assert F.T_MAX == 26.0


# --- 4. gradients at the extremes ---------------------------------------------------------------

EXTREMES = {
    "Gaussian": [dict(fwhm_gauss=1e-8)],
    "Cauchy": [dict(fwhm_lorentz=1e-8)],
    "PseudoVoigt": [
        dict(fwhm_gauss=1e-8, fwhm_lorentz=1.0),
        dict(fwhm_gauss=1.0, fwhm_lorentz=1e-8),
    ],
    "Laplace": [dict(fwhm_exp=1e-8), dict(fwhm_exp=1.0)],
    "SEMG": [dict(fwhm_gauss=1e-8, fwhm_exp=1.0), dict(fwhm_gauss=1.0, fwhm_exp=1e-8)],
    "GaussHermite": [dict(fwhm_gauss=1e-8, h3=0.3, h4=-0.3), dict(fwhm_gauss=1.0, h3=-0.3, h4=0.3)],
    "SplitNormal": [dict(fwhm_blue=1e-8, fwhm_red=1.0)],
    "SkewVoigt": [
        dict(fwhm_gauss=1e-8, fwhm_lorentz=1.0, alpha=5.0),
        dict(fwhm_gauss=1.0, fwhm_lorentz=1e-8, alpha=-5.0),
        dict(fwhm_gauss=0.3, fwhm_lorentz=1.0, alpha=1e-10),
    ],
    "BoxGauss": [dict(fwhm_box=1e-8, fwhm_gauss=1.0), dict(fwhm_box=1.0, fwhm_gauss=1e-8)],
    "SkewNormal": [dict(fwhm_gauss=1e-8, alpha=300.0), dict(fwhm_gauss=1.0, alpha=-300.0)],
    "GaussianSplitLaplace": [
        dict(fwhm_gauss=1e-8, fwhm_l_blue=1.0, fwhm_l_red=0.5),
        dict(fwhm_gauss=1.0, fwhm_l_blue=1e-8, fwhm_l_red=1e-8),
        dict(fwhm_gauss=1.0, fwhm_l_blue=1e-8, fwhm_l_red=1.0),
    ],
}


def finite_differences(f, params, x):
    """Central differences in x and in every parameter (relative steps, positive widths)."""
    out = {}
    for key, value in [("x", x), *params.items()]:
        h = 1e-6 * max(abs(value), 1e-8) if key != "x" else 1e-6 * max(abs(x), 1e-3)

        def shifted(d, key=key, value=value):
            if key == "x":
                return f(x + d, params)
            return f(x, {**params, key: value + d})

        out[key] = (shifted(h) - shifted(-h)) / (2 * h)
    return out


@pytest.mark.parametrize(
    ("name", "params"),
    [pytest.param(n, p, id=f"{n}-{i}") for n in EXTREMES for i, p in enumerate(EXTREMES[n])],
)
def test_gradients_are_finite_at_the_extremes(name, params):
    kernels = F.KERNELS[name]
    s = scale(params)
    xs = [0.0, 1e-3 * s, -0.7 * s, 2.0 * s, -1e4 * s, 1e4 * s]
    for lsf in (LSF, F.TAU_NORMALISATION_LSF):

        def pdf(v, p, lsf=lsf):
            return float(kernels.pdf(v, **p, lsf=lsf))

        for x in xs:
            grads = finite_differences(pdf, params, x)
            assert all(np.isfinite(g) for g in grads.values()), (lsf, x, grads)
    if kernels.edge_cumulative:

        def cdf(v, p):
            return kernels.cdf(EDGES + v, **p, lsf=LSF)

        grads = finite_differences(cdf, params, 0.0)
        assert all(np.all(np.isfinite(g)) for g in grads.values())
        return

    def cdf(v, p):
        return float(kernels.cdf(v, **p, lsf=LSF))

    for x in xs:
        grads = finite_differences(cdf, params, x)
        assert all(np.isfinite(g) for g in grads.values()), (x, grads)
        if name not in IDA:
            # dC/dx is the density (the guards of these cases do not switch near x)
            density = float(kernels.pdf(x, **params, lsf=LSF))
            assert grads["x"] == pytest.approx(density, rel=1e-5, abs=1e-12)


def test_values_finite_far_out_and_at_tau_lsf():
    x = np.concatenate([-np.logspace(-6, 4, 50), [0.0], np.logspace(-6, 4, 50)])
    for name, cases in {**CASES, **EXTREMES}.items():
        kernels = F.KERNELS[name]
        for params in cases:
            for lsf in (LSF, F.TAU_NORMALISATION_LSF):
                assert np.all(np.isfinite(kernels.pdf(x * scale(params), **params, lsf=lsf))), (
                    name,
                    params,
                )
            edges = EDGES if kernels.edge_cumulative else x * scale(params)
            assert np.all(np.isfinite(kernels.cdf(edges, **params, lsf=LSF))), (name, params)
