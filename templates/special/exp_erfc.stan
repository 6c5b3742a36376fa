  // exp(z^2) erfc(z) for z >= 0: directly below 26 (erfc does not underflow there; the
  // rounding of z^2 costs at most 7e-14 of a value below 0.57), above by 12 terms of its
  // continued fraction (Laplace), exact to double precision there.
  real unite_erfcx(real z) {
    if (z < 26) {
      return exp(square(z)) * erfc(z);
    }
    real f = z;
    for (i in 1:12) {
      f = z + 0.5 * (13 - i) / f;
    }
    return 0.5641895835477563 / f;
  }
  // J(t, a) = exp(a (a - 2 t)) erfc(a - t) for a >= 0, without overflow; lam_x is 2 a t.
  // Where a >= t it is exp(-t^2) erfcx(a - t); elsewhere its exponent is below -a^2.
  real unite_exp_erfc(real t, real a, real lam_x) {
    real d = a - t;
    if (d >= 0) {
      return exp(-square(t)) * unite_erfcx(d);
    }
    return exp(square(a) - lam_x) * erfc(d);
  }
  // 2 CDF - 1 of a Gaussian (squared FWHM g2) convolved with a symmetric Laplace of FWHM
  // w_exp, at x from the centre: erf(t) + (J(-t, a) - J(t, a)) / 2, with s = FWHM /
  // (2 sqrt(ln 2)), t = x / s, a = s lambda / 2, lambda = 2 ln 2 / w_exp. (The usual
  // sign(t) (J(-|t|) - J(|t|)) is the same function, but its derivative through |t| is lost
  // at t = 0; J is overflow-free for either sign.)
  real unite_semg_cumulative(real x, real g2, real w_exp) {
    real s = sqrt(g2) / 1.6651092223153954;
    real lambda = 1.3862943611198906 / w_exp;
    real a = 0.5 * s * lambda;
    real t = x / s;
    return erf(t)
           + 0.5 * (unite_exp_erfc(-t, a, -lambda * x) - unite_exp_erfc(t, a, lambda * x));
  }
