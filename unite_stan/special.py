"""The Faddeeva function w(z), evaluated as the Stan templates evaluate it.

``templates/special/faddeeva.stan`` gives Stan programs ``faddeeva_re``, ``faddeeva_im`` and
``voigt_hjerting``; :func:`faddeeva` is the same algorithm in numpy, so tables and tests on the
numpy side agree with the Stan side to rounding rather than to two algorithms' errors.

Algorithm, for z = x + iy with y >= 0:

* |z| < 27.5: the trapezoidal rule with step h = 1/2 for the integral
  ``w(z) = (i / pi) int exp(-t^2) / (z - t) dt``, plus the exact correction for the pole at
  ``t = z`` (Chiarella & Reichel 1968, Math. Comp. 22, 137; Hunter & Regan 1972, Math. Comp. 26,
  539)::

      w(z) = (i h / pi) sum_k exp(-t_k^2) / (z - t_k) + 2 exp(-z^2) / (1 - s exp(-2 pi i z / h))

  on the nodes ``t_k = k h`` (``s = 1``) or ``t_k = (k + 1/2) h`` (``s = -1``), whichever keeps
  x at least h/4 from every node so that the two terms never cancel (the shifted nodes of
  Zaghloul & Ali 2011, ACM TOMS 38, 15, algorithm 916). Pairing the nodes +t and -t makes the
  real part of the sum y times a positive sum, and the correction's real part is ``exp(-x^2)``
  on the real axis, so Re w keeps its relative accuracy where it is tiny (large |x|, small y).
  The aliasing error is about ``2 exp(-pi^2 / h^2) = 1.4e-17``.
* 27.5 <= |z|, |x| < 4096 and y < 4096: Laplace's continued fraction to six levels (Gautschi
  1970, SIAM J. Numer. Anal. 7, 187); ``exp(-x^2)`` underflows there.
* |x| >= 4096 or y >= 4096: its first level, ``w = (i / sqrt(pi)) z / (z^2 - 1/2)``, with a
  relative error below ``1 / (2 |z|^4) < 2e-15``.

Against mpmath the relative error is below about 1e-13 in Re w and in Im w for y in [0, 1e4] and
|x| <= 1e6 (``tests/test_special.py`` checks 1e-10 against ``scipy.special.wofz``), except where
the result is subnormal (below 2.2e-308), where only absolute accuracy is possible.

The Stan functions evaluate this in double precision at a point next to z and return its
second-order Taylor polynomial, so that reverse-mode autodiff records a handful of operations
per point instead of the whole algorithm (the header of the Stan file explains how).
"""

from __future__ import annotations

import numpy as np

__all__ = ["faddeeva", "voigt_hjerting"]

_INV_SQRT_PI = 0.5641895835477563
_INV_PI = 0.3183098861837907
_FAR = 4096.0  # from here on, the continued fraction's first level
_CF_RADIUS2 = 756.25  # 27.5^2: from here on, the continued fraction with _CF_LEVELS levels
_CF_LEVELS = 6
_EXP_QUARTER = 0.7788007830714049  # exp(-1/4)
_EXP_HALF = 0.6065306597126334  # exp(-1/2)
_EXP_SIXTEENTH = 0.9394130628134758  # exp(-1/16)


def faddeeva(z):
    """The Faddeeva function ``w(z) = exp(-z^2) erfc(-i z)`` in the closed upper half-plane.

    Parameters
    ----------
    z : array_like of complex
        Arguments with ``Im z >= 0`` (zero included).

    Returns
    -------
    numpy.ndarray
        complex128 values of w, of the shape of ``z``.

    Raises
    ------
    ValueError
        If an imaginary part is negative or NaN (the algorithm covers ``Im z >= 0`` only, as
        the Stan functions do).

    Notes
    -----
    Same algorithm as ``templates/special/faddeeva.stan`` (see the module docstring); it does not
    call :func:`scipy.special.wofz`, which serves only to test it.
    """
    z = np.asarray(z, dtype=np.complex128)
    x = np.ravel(z.real).astype(np.float64)
    y = np.ravel(z.imag).astype(np.float64)
    if not np.all(y >= 0):
        raise ValueError("faddeeva: w(x + iy) is implemented for y >= 0 (got a negative or NaN y)")
    wr = np.empty_like(x)
    wi = np.empty_like(x)
    far = (np.abs(x) >= _FAR) | (y >= _FAR)
    fraction = ~far & (x * x + y * y >= _CF_RADIUS2)
    trapezoid = ~far & ~fraction
    for mask, method in ((far, _first_level), (fraction, _fraction), (trapezoid, _trapezoid)):
        if mask.any():
            wr[mask], wi[mask] = method(x[mask], y[mask])
    return (wr + 1j * wi).reshape(z.shape)


def voigt_hjerting(a, x):
    """The Voigt-Hjerting function ``H(a, x) = Re w(x + i a)``.

    Parameters
    ----------
    a : array_like of float
        Damping parameters, ``a >= 0``.
    x : array_like of float
        Frequency offsets in Doppler units; broadcast against ``a``.

    Returns
    -------
    numpy.ndarray
        float64 values of the broadcast shape.
    """
    a, x = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(x, dtype=np.float64))
    return faddeeva(x + 1j * a).real


def _first_level(x, y):
    """``(i / sqrt(pi)) z / (z^2 - 1/2)``; ``|z^2 - 1/2|^2`` as ``|z - a|^2 |z + a|^2``, a = 2^-1/2,
    keeps every factor positive and finite."""
    a = 0.7071067811865476
    r = x * x + y * y
    p1 = (x - a) ** 2 + y * y
    p2 = (x + a) ** 2 + y * y
    return _INV_SQRT_PI * y / p1 * ((r + 0.5) / p2), _INV_SQRT_PI * x / p1 * ((r - 0.5) / p2)


def _fraction(x, y):
    """Laplace's continued fraction ``(i / sqrt(pi)) / (z - (1/2) / (z - 1 / (z - ...)))``."""
    fr, fi = x.copy(), y.copy()
    for k in range(1, _CF_LEVELS + 1):
        d = (0.5 * (_CF_LEVELS + 1) - 0.5 * k) / (fr * fr + fi * fi)
        fr, fi = x - fr * d, y + fi * d
    f2 = _INV_SQRT_PI / (fr * fr + fi * fi)
    return fi * f2, fr * f2


def _trapezoid(x, y):
    """The trapezoidal rule with its pole correction (module docstring), h = 1/2."""
    r = x * x + y * y
    x0 = x * x - y * y
    k2 = (2 * x * y) ** 2
    # nodes 0, 1/2, ..., 6 where 2x is at least 1/4 from an integer, else 1/4, 3/4, ..., 23/4
    on_integers = np.abs(2 * x - np.round(2 * x)) >= 0.25
    s = np.where(on_integers, 1.0, -1.0)
    a = np.zeros_like(x)  # sum c / D over node pairs +-t, D = |z^2 - t^2|^2
    b = np.zeros_like(x)  # sum c t^2 / D
    with np.errstate(divide="ignore"):  # z = 0 takes the other nodes
        a[on_integers] = 0.5 / r[on_integers] ** 2  # t = 0: no partner, half the weight
    # weights exp(-t^2) by the recurrence the Stan code uses
    c, q = 1.0, _EXP_QUARTER
    for m in range(1, 13):
        c *= q
        q *= _EXP_HALF
        _add_pair(a, b, on_integers, x0, k2, 0.25 * m * m, c)
    c, q = _EXP_SIXTEENTH, _EXP_HALF
    for m in range(12):
        _add_pair(a, b, ~on_integers, x0, k2, ((2 * m + 1) * 0.25) ** 2, c)
        c *= q
        q *= _EXP_HALF
    sr = _INV_PI * y * (a * r + b)
    si = _INV_PI * x * (a * r - b)
    # Pole correction -2 s exp(-z^2 + 2 pi i z / h) / (1 - s exp(2 pi i z / h)); above
    # y = 2 pi the exponent's (y - 2 pi)^2 is mirrored so that it decays (Stan file). The node
    # choice keeps the denominator >= 1, so |C| <= |g| and C is left out below 1e-18 Re S.
    v = y - 2 * np.pi
    g = -2 * s * np.exp(np.where(v < 0, v * v, -v * v) - 39.47841760435743 - x * x)
    cr = np.zeros_like(x)
    ci = np.zeros_like(x)
    need = np.abs(g) > 1e-18 * sr
    if need.any():
        xn, yn, gn = x[need], y[need], g[need]
        rho = s[need] * np.exp(-12.566370614359172 * yn)
        phi = 12.566370614359172 * xn
        psi = phi - 2 * xn * yn
        nr, ni = gn * np.cos(psi), gn * np.sin(psi)
        er, ei = 1 - rho * np.cos(phi), -rho * np.sin(phi)
        dd = er * er + ei * ei
        cr[need] = (nr * er + ni * ei) / dd
        ci[need] = (ni * er - nr * ei) / dd
    return sr + cr, si + ci


def _add_pair(a, b, mask, x0, k2, t2, c):
    """Add the node pair +-t (``t2 = t^2``, weight ``c = exp(-t^2)``) where ``mask`` holds."""
    inv = c / ((x0[mask] - t2) ** 2 + k2[mask])
    a[mask] += inv
    b[mask] += t2 * inv
