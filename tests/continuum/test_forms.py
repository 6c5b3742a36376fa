"""The continuum forms beyond Linear/Polynomial/PowerLaw: formulas against independent
references (numpy/scipy series, scipy's B-spline, Planck's law, np.interp), unite's defects
fixed on purpose (spec §3.15), serialisation, errors, and fitting each form to data."""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import pytest
import yaml
from numpy.polynomial import chebyshev, legendre
from scipy.interpolate import BSpline as ScipyBSpline
from scipy.special import comb

from unite_stan import continuum, prior
from unite_stan.continuum import fit_continuum_form
from unite_stan.continuum.library import FORMS, form_from_dict, get_form

LOW, HIGH = 6400.0, 6700.0
FRAME = {"obs_low": LOW, "obs_high": HIGH}
NEW = [
    "Chebyshev",
    "Legendre",
    "Bernstein",
    "BSpline",
    "Blackbody",
    "ModifiedBlackbody",
    "AttenuatedBlackbody",
    "Template",
    "DLAPowerLaw",
]
EXAMPLES = [f for cls in FORMS for f in cls.contract_examples()]


def write_template(
    path, wave, columns, *, wave_unit="Angstrom", flux_unit="erg / (Angstrom s cm2)"
):
    """A small ECSV template: ``columns`` name -> values."""
    header = ["# %ECSV 1.0", "# ---", "# datatype:"]
    header.append(f"# - {{name: wave, unit: {wave_unit}, datatype: float64}}")
    for name in columns:
        unit = f", unit: {flux_unit}" if flux_unit else ""
        header.append(f"# - {{name: {name}{unit}, datatype: float64}}")
    rows = [" ".join(["wave", *columns])]
    for k, w in enumerate(wave):
        rows.append(" ".join([repr(float(w)), *(repr(float(v[k])) for v in columns.values())]))
    path.write_text("\n".join(header + rows) + "\n")
    return path


# ---- registry, slots, priors, units, serialisation ----------------------------------------


def test_every_form_of_the_spec_is_registered():
    assert set(NEW) <= set(FORMS.names)
    for name in NEW[:3] + NEW[4:7]:
        assert type(get_form(name)).__name__ == name
    assert get_form("Chebyshev", order=3).param_names() == ["scale", "c1", "c2", "c3", "norm_wav"]


@pytest.mark.parametrize("form", EXAMPLES, ids=repr)
def test_to_dict_round_trips_through_safe_yaml(form):
    d = yaml.safe_load(yaml.safe_dump(form.to_dict()))
    back = form_from_dict(d)
    assert back == form and hash(back) == hash(form) and repr(back) == repr(form)


def test_slots_priors_and_units_follow_unite():
    region = 6550.0
    flam = u.erg / u.s / u.cm**2 / u.AA
    table = {
        continuum.Chebyshev(): (["scale", "c1", "c2", "norm_wav"], {"c1": (-10, 10)}),
        continuum.Legendre(3): (["scale", "p1", "p2", "p3"], {"p2": (-10, 10)}),
        continuum.Bernstein(2): (["scale", "coeff_1", "coeff_2", "norm_wav"], {"coeff_1": (0, 10)}),
        continuum.BSpline([6500, 6600] * u.AA, degree=2): (
            ["scale", "coeff_1", "coeff_2", "coeff_3", "coeff_4", "norm_wav"],
            {"coeff_4": (-10, 10)},
        ),
        continuum.Blackbody(): (
            ["scale", "temperature", "norm_wav"],
            {"temperature": (100, 50000)},
        ),
        continuum.ModifiedBlackbody(): (
            ["scale", "temperature", "beta", "norm_wav"],
            {"beta": (-4, 4)},
        ),
        continuum.AttenuatedBlackbody(): (
            ["scale", "temperature", "tau_v", "alpha", "norm_wav"],
            {"tau_v": (0, 5), "alpha": (-2, 0)},
        ),
        continuum.DLAPowerLaw(): (
            ["scale", "beta", "norm_wav", "log_NHI", "b", "redshift"],
            {"beta": (-3, 0), "log_NHI": (17, 22), "b": (10, 200), "redshift": (-0.05, 0.05)},
        ),
    }
    for form, (slots, shapes) in table.items():
        assert form.param_names() == slots, form
        assert form.default_prior("scale", region).low.value == 0
        assert form.default_prior("scale", region).high.value == 2
        nw = form.default_prior("norm_wav", region) if "norm_wav" in slots else None
        assert nw is None or nw.resolved_value({}) == region
        for slot, (low, high) in shapes.items():
            p = form.default_prior(slot, region)
            assert isinstance(p, prior.Uniform)
            assert (p.low.value, p.high.value) == (low, high), (form, slot)
        units = form.param_units(flam, u.AA)
        for slot in slots:
            scaled, unit = units[slot]
            if slot == "temperature":
                assert (scaled, unit) == (False, u.K)
            elif slot == "b":
                assert (scaled, unit) == (False, u.km / u.s)
            elif slot == "norm_wav":
                assert (scaled, unit) == (False, u.AA)
            elif slot in ("beta", "tau_v", "alpha", "log_NHI", "redshift"):
                assert (scaled, unit) == (False, u.dimensionless_unscaled)
            else:  # scale-like: scale, c_i, p_i, coeff_i (unite's table)
                assert (scaled, unit) == (True, flam), (form, slot)


def test_constructor_checks():
    with pytest.raises(ValueError, match="order"):
        continuum.Chebyshev(-1)
    with pytest.raises(ValueError, match="stretch"):
        continuum.Bernstein(3, stretch=0.0)
    with pytest.raises(TypeError, match="length Quantity"):
        continuum.BSpline([6500.0, 6600.0])
    with pytest.raises(TypeError, match="length Quantity"):
        continuum.AttenuatedBlackbody(5500.0)  # unite's from_dict default, rejected there too
    assert continuum.AttenuatedBlackbody.from_dict({"type": "AttenuatedBlackbody"}) == (
        continuum.AttenuatedBlackbody(0.55 * u.um)
    )


# ---- formulas -------------------------------------------------------------------------------


def test_polynomial_family_without_lsf_against_numpy_series():
    x = np.linspace(LOW, HIGH, 41)
    c = [1.0, 0.3, -0.2, 0.05]
    nw = 6520.0
    hw = 0.5 * (HIGH - LOW)
    for stretch in (1.0, 0.8):
        form = continuum.Chebyshev(3, stretch=stretch)
        uu = (x - 6550.0) / (hw * stretch)
        params = {"scale": 2.0, "c1": c[1], "c2": c[2], "c3": c[3]}
        got = form.evaluate(x, params, norm_wav=nw, **FRAME)
        norm = chebyshev.chebval((nw - 6550.0) / (hw * stretch), c)
        np.testing.assert_allclose(got, 2.0 * chebyshev.chebval(uu, c) / norm, rtol=1e-13)
    form = continuum.Legendre(3)
    params = {"scale": 2.0, "p1": 0.3, "p2": -0.2, "p3": 0.05}
    got = form.evaluate(x, params, norm_wav=nw, **FRAME)
    ref = legendre.legval((x - 6550.0) / hw, [2.0, 0.3, -0.2, 0.05])
    np.testing.assert_allclose(got, ref, rtol=1e-13)
    # scale is the mean over the region
    mean = np.diff(form.antiderivative(np.array([LOW, HIGH]), params, norm_wav=nw, **FRAME))
    assert mean[0] / (HIGH - LOW) == pytest.approx(2.0, rel=1e-13)
    for stretch in (1.0, 1.25):
        form = continuum.Bernstein(3, stretch=stretch)
        b = [1.0, 0.7, 2.0, 0.4]
        params = {"scale": 1.5, "coeff_1": 0.7, "coeff_2": 2.0, "coeff_3": 0.4}

        def bern(t, b=b):
            return sum(b[i] * comb(3, i) * t**i * (1 - t) ** (3 - i) for i in range(4))

        t = ((x - 6550.0) / (hw * stretch) + 1) / 2
        t_nw = ((nw - 6550.0) / (hw * stretch) + 1) / 2
        got = form.evaluate(x, params, norm_wav=nw, **FRAME)
        np.testing.assert_allclose(got, 1.5 * bern(t) / bern(t_nw), rtol=1e-12)


@pytest.mark.parametrize(
    "form, params",
    [
        (continuum.Chebyshev(3, stretch=0.9), {"scale": 1.3, "c1": 0.4, "c2": -0.7, "c3": 0.2}),
        (continuum.Legendre(4), {"scale": 1.3, "p1": 0.4, "p2": -0.7, "p3": 0.2, "p4": 0.1}),
        (continuum.Bernstein(4), {"scale": 1.3, **{f"coeff_{i}": 0.5 * i for i in range(1, 5)}}),
    ],
    ids=repr,
)
def test_polynomial_family_lsf_convolution_against_numerical_convolution(form, params):
    """The pixel average with the region's LSF is the average of the form convolved with a
    Gaussian of that FWHM, as §3.8 has it: Gauss-Hermite (over the LSF) and Gauss-Legendre
    (over the pixel) quadratures, exact for polynomials of these degrees."""
    lsf = 40.0  # wide, so that the convolution shows
    sigma = lsf / (2 * math.sqrt(2 * math.log(2)))
    common = {"norm_wav": 6530.0, **FRAME}
    t, wt = np.polynomial.hermite_e.hermegauss(12)
    s, ws = np.polynomial.legendre.leggauss(12)
    for a, b in ((6400.0, 6431.0), (6600.0, 6700.0)):
        exact = np.diff(form.antiderivative(np.array([a, b]), params, lsf_fwhm=lsf, **common))
        x = 0.5 * (a + b) + 0.5 * (b - a) * s
        values = form.evaluate(x[:, None] - sigma * t[None, :], params, **common)
        convolved = values @ wt / math.sqrt(2 * math.pi)
        numeric = 0.5 * (b - a) * (convolved @ ws)
        assert float(exact[0]) == pytest.approx(numeric, rel=1e-11)
        plain = np.diff(form.antiderivative(np.array([a, b]), params, **common))
        assert abs(plain[0] - exact[0]) > 1e-6 * abs(exact[0])  # the LSF matters here


def test_chebyshev_normaliser_outside_the_unit_interval_is_the_series():
    """unite evaluates S(u_nw) as cos(n acos u): NaN when norm_wav lies beyond hw·stretch of
    the centre. Here it is the series itself (cosh(n acosh u) there)."""
    form = continuum.Chebyshev(2, stretch=0.5)
    params = {"scale": 1.0, "c1": 0.2, "c2": 0.1}
    nw = 6690.0  # u_nw = 140 / 75 > 1
    u_nw = (nw - 6550.0) / 75.0
    assert u_nw > 1
    value = form.evaluate(np.array([6550.0]), params, norm_wav=nw, **FRAME)
    t2 = math.cosh(2 * math.acosh(u_nw))
    assert np.isfinite(value).all()
    assert value[0] == pytest.approx((1 - 0.1) / (1 + 0.2 * u_nw + 0.1 * t2), rel=1e-13)


def test_bspline_against_scipy():
    form = continuum.BSpline([6480.0, 6530.0, 6620.0] * u.AA, degree=3)
    coeffs = [1.0, 0.3, 1.7, -0.4, 2.2, 0.9, 1.1]
    params = {"scale": 2.5, **{f"coeff_{i}": coeffs[i] for i in range(1, 7)}}
    knots = np.array([LOW] * 4 + [6480.0, 6530.0, 6620.0] + [HIGH] * 4)
    ref = ScipyBSpline(knots, np.array(coeffs), 3)
    x = np.linspace(LOW, HIGH - 1e-9, 57)
    nw = 6561.0
    got = form.evaluate(x, params, norm_wav=nw, **FRAME)
    np.testing.assert_allclose(got, 2.5 * ref(x) / ref(nw), rtol=1e-12)


@pytest.mark.parametrize("z_sys", [0.0, 1.7])
@pytest.mark.parametrize("unit", [u.AA, u.nm, u.um])
def test_bspline_knots_follow_redshift_and_units(z_sys, unit):
    """unite maps the rest-frame knot values in the region's unit with the observed bounds in
    the canonical unit, which is right only at z = 0 with Å throughout. Here the same spline
    comes out at any redshift and unit."""
    form = continuum.BSpline([6480.0, 6530.0, 6620.0] * u.AA, degree=2)
    params = {"scale": 1.0, **{f"coeff_{i}": 0.5 + 0.3 * i * (-1) ** i for i in range(1, 6)}}
    rest = np.linspace(LOW, HIGH, 31)
    reference = form.evaluate(rest, params, norm_wav=6555.0, **FRAME)
    to = (1 * u.AA).to_value(unit) * (1 + z_sys)
    got = form.evaluate(
        rest * to,
        params,
        obs_low=LOW * to,
        obs_high=HIGH * to,
        norm_wav=6555.0 * to,
        wl_unit=unit,
        z_sys=z_sys,
    )
    np.testing.assert_allclose(got, reference, rtol=1e-10)


def test_bspline_knots_must_lie_inside_the_region():
    form = continuum.BSpline([6500.0, 6800.0] * u.AA)
    with pytest.raises(
        ValueError, match=r"BSpline knot 6800 Angstrom lies outside the region \(6400, 6700\)"
    ):
        continuum.ContinuumRegion(6400 * u.AA, 6700 * u.AA, form=form)
    with pytest.raises(ValueError, match="knot 640 nm lies outside the region"):
        continuum.ContinuumRegion(640 * u.nm, 670 * u.nm, form=continuum.BSpline([6400.0] * u.AA))
    # knots in another unit than the region's are compared in the region's
    continuum.ContinuumRegion(640 * u.nm, 670 * u.nm, form=continuum.BSpline([6500.0] * u.AA))


def planck(lam_um, temperature):
    import astropy.constants as const

    hc_over_k = (const.h * const.c / const.k_B).to_value(u.um * u.K)
    x = hc_over_k / (lam_um * temperature)
    return lam_um**-5 / np.expm1(x)


@pytest.mark.parametrize("z_sys", [0.0, 2.5])
def test_blackbody_family_at_rest_frame_wavelengths(z_sys):
    """Planck's law at λ/(1+z): the temperature is the rest-frame one (unite's is observed,
    T_rest/(1+z)), and the µm factor is that of the wavelengths' unit (unite: the region's)."""
    rest = np.linspace(LOW, HIGH, 13)
    nw = 6550.0
    T, beta, tau, alpha = 4200.0, 1.3, 0.7, -0.8
    bb = planck(rest / 1e4, T) / planck(nw / 1e4, T)
    ext = np.exp(-tau * ((rest / 5500.0) ** alpha - (nw / 5500.0) ** alpha))
    cases = [
        (continuum.Blackbody(), {"scale": 2.0, "temperature": T}, 2.0 * bb),
        (
            continuum.ModifiedBlackbody(),
            {"scale": 2.0, "temperature": T, "beta": beta},
            2.0 * bb * (rest / nw) ** beta,
        ),
        (
            continuum.AttenuatedBlackbody(550 * u.nm),
            {"scale": 2.0, "temperature": T, "tau_v": tau, "alpha": alpha},
            2.0 * bb * ext,
        ),
    ]
    for unit in (u.AA, u.um):
        to = (1 * u.AA).to_value(unit) * (1 + z_sys)
        for form, params, expected in cases:
            got = form.evaluate(
                rest * to,
                params,
                obs_low=LOW * to,
                obs_high=HIGH * to,
                norm_wav=nw * to,
                wl_unit=unit,
                z_sys=z_sys,
            )
            np.testing.assert_allclose(got, expected, rtol=1e-12, err_msg=repr(form))


def test_blackbody_is_finite_where_the_exponentials_overflow():
    form = continuum.Blackbody()
    x = np.array([1000.0, 3000.0, 6500.0])
    got = form.evaluate(x, {"scale": 1.0, "temperature": 100.0}, norm_wav=6500.0, **FRAME)
    assert np.all(np.isfinite(got)) and got[0] == 0.0 and got[2] == 1.0


@pytest.mark.parametrize("unit", [u.AA, u.nm])
def test_dla_against_a_wofz_voigt_profile(unit):
    """The damped Lyman-α transmission from scipy's Faddeeva function, at the absorber's
    rest-frame wavelengths in Å whatever the wavelengths' unit (unite: the region's unit)."""
    from scipy.special import wofz

    z_sys, dz = 3.1, 0.004
    params = {"scale": 1.7, "beta": -1.4, "log_NHI": 20.3, "b": 35.0, "redshift": dz}
    rest = np.linspace(1190.0, 1300.0, 200)  # the absorber's frame
    obs = rest * (1 + z_sys + dz)
    nw = 1250.0 * (1 + z_sys)
    c = 299792.458
    lam_km = 1.21567e-10
    a = 6.2649e8 * lam_km / (4 * np.pi * 35.0)
    x = c * (1215.67 - rest) / (rest * 35.0)
    import astropy.constants as const

    # K = f e^2 / (4 sqrt(pi) eps0 m_e c), f = 0.41641
    k = 0.41641 * const.e.si**2 / (4 * np.sqrt(np.pi) * const.eps0 * const.m_e * const.c)
    sigma = k.to_value(u.cm**2 / u.s) * lam_km / 35.0 * wofz(x + 1j * a).real
    trans = np.where(rest <= 1215.67, 0.0, np.exp(-(10**20.3) * sigma))
    expected = 1.7 * (obs / nw) ** -1.4 * trans
    to = (1 * u.AA).to_value(unit)
    got = continuum.DLAPowerLaw().evaluate(
        obs * to,
        params,
        obs_low=obs[0] * to,
        obs_high=obs[-1] * to,
        norm_wav=nw * to,
        wl_unit=unit,
        z_sys=z_sys,
    )
    # 1e-16 of the wavelength (its unit's conversion) is 1e-12 of exp(-N σ) on the wing
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-300)
    assert got[rest <= 1215.67].max() == 0 and got[-1] > 1.0


# ---- Template ------------------------------------------------------------------------------


@pytest.fixture
def template_file(tmp_path):
    wave = np.linspace(3000.0, 4000.0, 101)
    return write_template(
        tmp_path / "t.ecsv",
        wave,
        {"old": 1.0 + (wave - 3000) / 1000, "young": np.exp(-(wave - 3000) / 300)},
    )


def test_template_interpolates_the_rest_frame_columns(template_file):
    form = continuum.Template(template_file)
    assert form.param_names() == ["old_scale", "young_scale", "norm_wav"]
    assert form.columns == ["old", "young"]
    z = 1.0
    rest = np.linspace(3200.0, 3600.0, 9)
    params = {"old_scale": 0.7, "young_scale": 1.4}
    wave = np.linspace(3000.0, 4000.0, 101)
    old, young = 1.0 + (wave - 3000) / 1000, np.exp(-(wave - 3000) / 300)
    nw = 3400.0
    expected = 0.7 * np.interp(rest, wave, old) / np.interp(nw, wave, old) + 1.4 * np.interp(
        rest, wave, young
    ) / np.interp(nw, wave, young)
    for unit in (u.AA, u.nm):
        to = (1 * u.AA).to_value(unit) * (1 + z)
        got = form.evaluate(
            rest * to,
            params,
            obs_low=3200.0 * to,
            obs_high=3600.0 * to,
            norm_wav=nw * to,
            wl_unit=unit,
            z_sys=z,
        )
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    only = continuum.Template(template_file, usecols=["young"])
    assert only.param_names() == ["young_scale", "norm_wav"]
    assert form_from_dict(only.to_dict()) == only != form


def test_template_file_errors(tmp_path, template_file):
    wave = np.linspace(3000.0, 4000.0, 11)
    bad = np.ones(11)
    bad[3] = np.nan
    with pytest.raises(ValueError, match="column 'a' holds NaN or infinite values"):
        continuum.Template(write_template(tmp_path / "nan.ecsv", wave, {"a": bad}))
    bad[3] = np.inf
    with pytest.raises(ValueError, match="column 'a' holds NaN or infinite values"):
        continuum.Template(write_template(tmp_path / "inf.ecsv", wave, {"a": bad}))
    backwards = wave.copy()
    backwards[5] = backwards[4]
    with pytest.raises(ValueError, match="must increase strictly"):
        continuum.Template(write_template(tmp_path / "flat.ecsv", backwards, {"a": np.ones(11)}))
    with pytest.raises(ValueError, match=r"covers 3000-4000 Angstrom .*not the whole region"):
        continuum.ContinuumRegion(3500 * u.AA, 4100 * u.AA, form=continuum.Template(template_file))
    continuum.ContinuumRegion(300 * u.nm, 400 * u.nm, form=continuum.Template(template_file))
    with pytest.raises(ValueError, match="columns with a length unit"):
        continuum.Template(
            write_template(tmp_path / "nounit.ecsv", wave, {"a": np.ones(11)}, wave_unit="")
        )
    with pytest.raises(ValueError, match="no column 'lam'"):
        continuum.Template(template_file, wavelength_colname="lam")
    with pytest.raises(ValueError, match="flux columns"):
        continuum.Template(template_file, usecols=["missing"])
    with pytest.warns(UserWarning, match="not a flux density per wavelength"):
        continuum.Template(
            write_template(tmp_path / "fnu.ecsv", wave, {"a": np.ones(11)}, flux_unit="Jy")
        )


# ---- fitting --------------------------------------------------------------------------------


FITS = [
    (continuum.Chebyshev(2), {"scale": 2.0, "c1": 0.2, "c2": -0.1}),
    (continuum.Legendre(2), {"scale": 2.0, "p1": 0.2, "p2": -0.1}),
    (continuum.Bernstein(3), {"scale": 2.0, "coeff_1": 1.3, "coeff_2": 0.8, "coeff_3": 1.1}),
    (
        continuum.BSpline([6500.0, 6600.0] * u.AA, degree=2),
        {"scale": 2.0, "coeff_1": 1.2, "coeff_2": 0.9, "coeff_3": 1.3, "coeff_4": 1.0},
    ),
    (continuum.Blackbody(), {"scale": 2.0, "temperature": 7000.0}),
    (continuum.ModifiedBlackbody(), {"scale": 2.0, "temperature": 7000.0, "beta": 0.5}),
    (
        continuum.AttenuatedBlackbody(),
        {"scale": 2.0, "temperature": 9000.0, "tau_v": 0.6, "alpha": -1.0},
    ),
]


def test_fit_dla():
    """Gauss-Newton from the default start (log_NHI and b in their priors' middles) finds a
    damped absorber whose Lyman α lies in the region."""
    form = continuum.DLAPowerLaw()
    z_sys = 4.3  # Lyman α at 6443 Å
    wl = np.linspace(LOW, HIGH, 400)
    truth = {"scale": 2.0, "beta": -1.5, "log_NHI": 20.8, "b": 60.0, "redshift": 0.002}
    kw = {"wl_unit": u.AA, "z_sys": z_sys}
    flux = 1e-17 * form.evaluate(wl, truth, norm_wav=6550.0, **FRAME, **kw)
    result = fit_continuum_form(form, wl, flux, np.full(wl.size, 1e-19), 6550.0, LOW, HIGH, **kw)
    assert result.params["log_NHI"] == pytest.approx(20.8, abs=1e-3)
    assert result.params["redshift"] == pytest.approx(0.002, abs=1e-5)
    np.testing.assert_allclose(result.model, flux, rtol=1e-4, atol=1e-22)


@pytest.mark.parametrize(
    "form, truth", FITS, ids=lambda f: repr(f) if not isinstance(f, dict) else ""
)
def test_fit_continuum_form_recovers_each_form(form, truth):
    wl = np.linspace(LOW, HIGH, 300)
    nw = 6550.0
    kw = {"wl_unit": u.AA, "z_sys": 0.3}
    flux = 1e-17 * form.evaluate(wl, truth, norm_wav=nw, **FRAME, **kw)
    result = fit_continuum_form(form, wl, flux, np.full(wl.size, 1e-20), nw, LOW, HIGH, **kw)
    # temperature, tau_v and alpha are nearly degenerate over 300 Å
    degenerate = isinstance(form, continuum.AttenuatedBlackbody)
    np.testing.assert_allclose(result.model, flux, rtol=1e-4 if degenerate else 1e-6)
    assert result.params["scale"] == pytest.approx(2e-17, rel=1e-3 if degenerate else 1e-4)
    if isinstance(form, continuum.Legendre):
        assert form.least_squares is not None  # solved directly
        for slot, value in truth.items():
            assert result.params[slot] == pytest.approx(value * 1e-17, rel=1e-8)
    if isinstance(form, continuum.Blackbody) and not degenerate:
        assert result.params["temperature"] == pytest.approx(truth["temperature"], rel=1e-3)


def test_fit_template_is_linear(template_file):
    form = continuum.Template(template_file)
    assert form.least_squares == {}
    wl = np.linspace(3100.0, 3900.0, 120) * 1.2
    truth = {"old_scale": 3e-17, "young_scale": 1e-17}
    kw = {"wl_unit": u.AA, "z_sys": 0.2}
    flux = form.evaluate(wl, truth, obs_low=3720.0, obs_high=4680.0, norm_wav=4200.0, **kw)
    result = fit_continuum_form(
        form, wl, flux, np.full(wl.size, 1e-20), 4200.0, 3720.0, 4680.0, **kw
    )
    for slot, value in truth.items():
        assert result.params[slot] == pytest.approx(value, rel=1e-9)
