  // 1 where x >= threshold, else 0: a data vector, so masks cost no autodiff nodes.
  vector unite_at_least(vector x, real threshold) {
    int n = rows(x);
    array[n] int above;
    for (i in 1:n) {
      above[i] = x[i] >= threshold;
    }
    return to_vector(above);
  }
  // exp(z^2) erfc(z) for z >= 0, elementwise: directly below 26 (erfc does not underflow
  // there; the rounding of z^2 costs at most 7e-14 of a value below 0.57), above by its
  // asymptotic series to the z^-9 term (relative error 2e-13 at z = 26, less beyond). Both
  // are computed on the whole vector, each on arguments clipped to its own range, and blended
  // by a mask: no loop over elements, which would stop stanc keeping whole vectors.
  vector unite_erfcx(vector z) {
    vector[rows(z)] far = unite_at_least(z, 26);
    vector[rows(z)] near_z = fmin(z, 26);
    vector[rows(z)] far_z = fmax(z, 26);
    vector[rows(z)] y = inv_square(far_z) * 0.5;
    vector[rows(z)] series = 1 - y .* (1 - 3 * y .* (1 - 5 * y .* (1 - 7 * y)));
    return (1 - far) .* exp(square(near_z)) .* erfc(near_z)
           + far .* series * 0.5641895835477563 ./ far_z;
  }
  // J(t, a) = exp(a (a - 2 t)) erfc(a - t) for a >= 0, elementwise and without overflow;
  // lam_x is 2 a t. Where d = a - t is below 26 it is computed as written: its exponent
  // a^2 - lam_x = d^2 - t^2 is below 676, so exp cannot overflow, and erfc(d) does not
  // underflow. Beyond, erfc underflows: exp(-t^2) times the asymptotic series of
  // exp(d^2) erfc(d) to the d^-9 term (relative error 2e-13 at d = 26, less beyond). Each
  // formula runs on its own elements only (picked by index, not blended by a mask), so an
  // edge pays for one exp and one erfc.
  vector unite_exp_erfc(vector t, vector a, vector lam_x) {
    int n = rows(t);
    vector[n] d = a - t;
    int n_far = 0;
    for (i in 1:n) {
      n_far += d[i] >= 26;
    }
    if (n_far == 0) {
      return exp(square(a) - lam_x) .* erfc(d);
    }
    array[n - n_far] int near;
    array[n_far] int far;
    int j = 0;
    int k = 0;
    for (i in 1:n) {
      if (d[i] >= 26) {
        k += 1;
        far[k] = i;
      } else {
        j += 1;
        near[j] = i;
      }
    }
    vector[n_far] y = 0.5 * inv_square(d[far]);
    vector[n] out;
    out[near] = exp(square(a[near]) - lam_x[near]) .* erfc(d[near]);
    out[far] = exp(-square(t[far])) .* (1 - y .* (1 - 3 * y .* (1 - 5 * y .* (1 - 7 * y))))
               * 0.5641895835477563 ./ d[far];
    return out;
  }
  // 2 CDF - 1 of a Gaussian (squared FWHM g2, one per x) convolved with a symmetric Laplace
  // of FWHM w_exp, at x from the centre: erf(t) + (J(-t, a) - J(t, a)) / 2, with s = FWHM /
  // (2 sqrt(ln 2)), t = x / s, a = s lambda / 2, lambda = 2 ln 2 / w_exp. (The usual
  // sign(t) (J(-|t|) - J(|t|)) is the same function, but its derivative through |t| is lost
  // at t = 0; J is overflow-free for either sign.)
  vector unite_semg_cumulative(vector x, vector g2, real w_exp) {
    vector[rows(x)] s = sqrt(g2) / 1.6651092223153954;
    real lambda = 1.3862943611198906 / w_exp;
    vector[rows(x)] a = 0.5 * lambda * s;
    vector[rows(x)] t = x ./ s;
    return erf(t)
           + 0.5 * (unite_exp_erfc(-t, a, -lambda * x) - unite_exp_erfc(t, a, lambda * x));
  }
