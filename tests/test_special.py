"""The Faddeeva function: the numpy twin and the Stan chunk against scipy.special.wofz.

The requirement is a relative error of at most 1e-10 in Re w and Im w for y in [0, 1e4] and
|x| <= 1e6, and Stan gradients equal to the analytic dw/dz = -2 z w + 2 i / sqrt(pi) to 1e-8.
Where w is subnormal (below 2.2e-308) only an absolute error of that size can be asked for.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import wofz

from unite_stan._resources import template_dir
from unite_stan.special import faddeeva, voigt_hjerting

TOLERANCE = 1e-10
GRADIENT_TOLERANCE = 1e-8
TINY = np.finfo(np.float64).tiny


def grid_axes(dense=True):
    """x and y values that reach every region, boundary and edge of the algorithm."""
    rng = np.random.default_rng(20240611)
    core = np.linspace(-30, 30, 2401 if dense else 481)  # steps of 1/8: on and between nodes
    wide = np.geomspace(1e-10, 1e6, 300 if dense else 90)
    edges = np.array(
        [0.0, 2**-19, 2**-19 * (1 - 2**-40), 2**-19 * (1 + 2**-40), 0.125, 0.375, 1 / 3]
        + [26.6, 27.0, 27.3, 27.5, np.nextafter(27.5, 0), 4096.0, np.nextafter(4096.0, 0), 1e6]
    )
    x = np.concatenate([core, wide, -wide, edges, -edges, rng.uniform(-40, 40, 40)])
    y = np.concatenate(
        [
            [0.0, 5e-324, 1e-300, 1e-200, 1e-100, 1e-30, 1e-16, 1e-12, 1e-10, 1e-8],
            [2**-19, 2**-19 * (1 - 2**-40), 2 * np.pi, np.nextafter(2 * np.pi, 0), 27.5],
            [np.nextafter(4096.0, 0), 4096.0, 1e4],
            np.geomspace(1e-6, 1e4, 101 if dense else 41),
            np.linspace(0.05, 12, 60 if dense else 24),
        ]
    )
    return np.unique(x), np.unique(y)


def grid(dense=True):
    """Flat x, y of the grid of :func:`grid_axes`."""
    x, y = np.meshgrid(*grid_axes(dense))
    return x.ravel(), y.ravel()


def relative_error(value, reference):
    """|value - reference| / |reference|; 0 where both are 0, and for subnormal references the
    absolute error divided by the smallest normal number (so <= 1 means absolutely accurate)."""
    error = np.abs(value - reference)
    scale = np.maximum(np.abs(reference), TINY)
    return np.where(error == 0, 0.0, error / scale)


def analytic_derivative(z):
    """dw/dz = -2 z w + 2 i / sqrt(pi) from scipy's wofz where that loses at most 2 |z|^2 of
    wofz's ~1e-13 relative accuracy (|z| < 100), else the asymptotic series
    -(i / sqrt(pi)) sum_k (2k + 1)!! / 2^k z^-(2k + 2), whose terms fall by |z|^-2."""
    derivative = -2 * z * wofz(z) + 2j / np.sqrt(np.pi)
    far = np.abs(z) >= 100
    u = 1 / z[far] ** 2
    series = 1 + u * (1.5 + u * (3.75 + u * (13.125 + u * 59.0625)))
    derivative[far] = -1j / np.sqrt(np.pi) * u * series
    return derivative


# ---------------------------------------------------------------------------------------------
# numpy twin


def test_numpy_matches_wofz_on_the_dense_grid():
    x, y = grid()
    w = faddeeva(x + 1j * y)
    reference = wofz(x + 1j * y)
    re = relative_error(w.real, reference.real)
    im = relative_error(w.imag, reference.imag)
    # measured: 6.4e-14 (Re), 4.0e-13 (Im, wofz's own error there) on 544 000 points
    assert re.max() <= TOLERANCE, (
        f"Re w: {re.max():.3g} at z = {x[re.argmax()]} + {y[re.argmax()]}i"
    )
    assert im.max() <= TOLERANCE, (
        f"Im w: {im.max():.3g} at z = {x[im.argmax()]} + {y[im.argmax()]}i"
    )


def test_numpy_matches_mpmath():
    """Against mpmath's 30-digit w: the twin's own error, without wofz's (up to 3e-13 in Im)."""
    mpmath = pytest.importorskip("mpmath")
    rng = np.random.default_rng(3)
    x = np.concatenate(
        [rng.uniform(-30, 30, 150), np.geomspace(1e-6, 1e6, 50) * rng.choice([-1, 1], 50)]
    )
    y = np.concatenate(
        [10 ** rng.uniform(-12, 0, 100), rng.uniform(0, 12, 50), 10 ** rng.uniform(-6, 4, 50)]
    )
    with mpmath.workdps(30):
        reference = np.array(
            [
                complex(mpmath.exp(-(mpmath.mpc(a, b) ** 2)) * mpmath.erfc(-1j * mpmath.mpc(a, b)))
                for a, b in zip(x, y, strict=True)
            ]
        )
    w = faddeeva(x + 1j * y)
    # measured: 9.6e-15 (Re), 4.4e-14 (Im)
    assert relative_error(w.real, reference.real).max() <= 1e-13
    assert relative_error(w.imag, reference.imag).max() <= 1e-13


def test_numpy_edge_values():
    assert faddeeva(0) == 1
    assert faddeeva(0j).shape == ()
    # w(iy) = erfcx(y), w(x) = exp(-x^2) + 2i F(x) / sqrt(pi), symmetry w(-conj z) = conj w(z)
    from scipy.special import dawsn, erfcx

    y = np.geomspace(1e-8, 1e4, 50)
    np.testing.assert_allclose(faddeeva(1j * y).real, erfcx(y), rtol=1e-13)
    np.testing.assert_array_equal(faddeeva(1j * y).imag, 0)
    x = np.linspace(-26, 26, 1041)
    w = faddeeva(x + 0j)
    np.testing.assert_allclose(w.real, np.exp(-(x**2)), rtol=1e-13)
    np.testing.assert_allclose(w.imag, 2 / np.sqrt(np.pi) * dawsn(x), rtol=1e-12, atol=0)
    z = np.array([[0.3 + 0.1j, 7.0 + 1e-9j], [40.0 + 2.0j, 5000.0 + 3.0j]])
    np.testing.assert_array_equal(faddeeva(-z.conj()), faddeeva(z).conj())
    assert faddeeva(z).shape == (2, 2)


def test_numpy_voigt_hjerting_broadcasts():
    a = np.array([[1e-3], [0.5]])
    x = np.linspace(-5, 5, 11)
    h = voigt_hjerting(a, x)
    assert h.shape == (2, 11)
    np.testing.assert_allclose(h, wofz(x + 1j * a).real, rtol=1e-12)


def test_numpy_refuses_the_lower_half_plane():
    with pytest.raises(ValueError, match="y >= 0"):
        faddeeva(1 - 1e-9j)
    with pytest.raises(ValueError, match="y >= 0"):
        faddeeva(complex(1, np.nan))


# ---------------------------------------------------------------------------------------------
# Stan chunk: one program, compiled once for the module

PROGRAM = """
functions {
%s
}
data {
  int N;
  vector[N] weight_re;  // the density is weight_re . Re w + weight_im . Im w + weight_h . H
  vector[N] weight_im;
  vector[N] weight_h;
}
parameters {
  vector[N] x;
  vector[N] y;
}
model {
  target += dot_product(weight_re, faddeeva_re(x, y)) + dot_product(weight_im, faddeeva_im(x, y))
            + dot_product(weight_h, voigt_hjerting(y, x));
}
generated quantities {
  vector[N] re = faddeeva_re(x, y);
  vector[N] im = faddeeva_im(x, y);
  vector[N] re_scalar;
  vector[N] im_scalar;
  vector[N] hjerting = voigt_hjerting(y, x);
  vector[N] hjerting_scalar;
  for (i in 1:N) {
    re_scalar[i] = faddeeva_re(x[i], y[i]);
    im_scalar[i] = faddeeva_im(x[i], y[i]);
    hjerting_scalar[i] = voigt_hjerting(y[i], x[i]);
  }
}
"""


@pytest.fixture(scope="module")
def stan_model():
    from unite_stan.stan.backends import get_backend

    backend = get_backend("embedded")
    chunk = (template_dir() / "special" / "faddeeva.stan").read_text()
    return backend, backend.compile(PROGRAM % chunk, progress=False)


def stan_density(stan_model, n, weights=(1.0, 0.0, 0.0)):
    """The density sum(weights[0] Re w + weights[1] Im w + weights[2] H) over n points."""
    backend, model = stan_model
    names = ("weight_re", "weight_im", "weight_h")
    data = {"N": n, **{name: np.full(n, w) for name, w in zip(names, weights, strict=True)}}
    return backend.log_density(model, data)


def stan_values(stan_model, x, y):
    """Generated quantities at (x, y), each an array."""
    outputs = stan_density(stan_model, len(x)).write_array(np.concatenate([x, y]))
    names = ("re", "im", "re_scalar", "im_scalar", "hjerting", "hjerting_scalar")
    return {name: np.array([outputs[f"{name}.{i + 1}"] for i in range(len(x))]) for name in names}


def stan_gradient(stan_model, x, y, part):
    """(d/dx, d/dy) of Re w (part 're'), Im w ('im') or H(y, x) ('hjerting') at each (x, y)."""
    weights = {"re": (1.0, 0.0, 0.0), "im": (0.0, 1.0, 0.0), "hjerting": (0.0, 0.0, 1.0)}[part]
    _, gradient = stan_density(stan_model, len(x), weights)(np.concatenate([x, y]))
    return gradient[: len(x)], gradient[len(x) :]


@pytest.mark.stan
def test_stan_values_match_wofz(stan_model):
    x, y = grid(dense=False)
    values = stan_values(stan_model, x, y)
    reference = wofz(x + 1j * y)
    re = relative_error(values["re"], reference.real)
    im = relative_error(values["im"], reference.imag)
    # measured: 5.2e-14 (Re), 3.2e-13 (Im, wofz's own error there) on 59 000 points
    assert re.max() <= TOLERANCE, (
        f"Re w: {re.max():.3g} at z = {x[re.argmax()]} + {y[re.argmax()]}i"
    )
    assert im.max() <= TOLERANCE, (
        f"Im w: {im.max():.3g} at z = {x[im.argmax()]} + {y[im.argmax()]}i"
    )
    # the scalar overloads and voigt_hjerting run the same code
    np.testing.assert_array_equal(values["re_scalar"], values["re"])
    np.testing.assert_array_equal(values["im_scalar"], values["im"])
    np.testing.assert_array_equal(values["hjerting"], values["re"])
    np.testing.assert_array_equal(values["hjerting_scalar"], values["re"])
    # and the numpy twin is the same algorithm: it agrees to rounding
    twin = faddeeva(x + 1j * y)
    assert relative_error(values["re"], twin.real).max() <= 1e-12
    assert relative_error(values["im"], twin.imag).max() <= 1e-12


@pytest.mark.stan
def test_stan_gradients_match_the_analytic_derivative(stan_model):
    x, y = grid(dense=False)
    derivative = analytic_derivative(x + 1j * y)
    scale = np.abs(derivative)
    # d Re w / dx = Re w', d Re w / dy = -Im w'; d Im w / dx = Im w', d Im w / dy = Re w'
    for part, expected in (
        ("re", (derivative.real, -derivative.imag)),
        ("im", (derivative.imag, derivative.real)),
        ("hjerting", (derivative.real, -derivative.imag)),
    ):
        dx, dy = stan_gradient(stan_model, x, y, part)
        error = np.hypot(dx - expected[0], dy - expected[1]) / scale
        worst = error.argmax()
        # measured: 5.2e-11, the reference's own error at |z| ~ 60 (1.2e-14 against mpmath)
        assert error.max() <= GRADIENT_TOLERANCE, (
            f"gradient of {part} w: {error.max():.3g} at z = {x[worst]} + {y[worst]}i"
        )


@pytest.mark.stan
def test_stan_rejects_negative_y(stan_model):
    density = stan_density(stan_model, 2)
    assert np.isfinite(density.log_prob(np.array([1.0, 2.0, 0.0, 0.5])))
    assert density.log_prob(np.array([1.0, 2.0, 0.0, -1e-300])) == -np.inf
