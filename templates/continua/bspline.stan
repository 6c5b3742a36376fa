  // sum_i c[i] B_i(s): the B-spline basis on the knots t (Cox-de Boor), s clipped to
  // [t[1], t[end] - 1e-14].
  real bspline_sum(real s, vector c, vector t) {
    int nt = rows(t);
    int nb = rows(c);
    real v = fmin(fmax(s, t[1]), t[nt] - 1e-14);
    array[nt - 1] real b;
    for (i in 1:(nt - 1)) {
      b[i] = (t[i] <= v && v < t[i + 1]) ? 1 : 0;
    }
    for (k in 1:(nt - nb - 1)) {
      for (i in 1:(nt - 1 - k)) {
        real left = t[i + k] > t[i] ? (v - t[i]) / (t[i + k] - t[i]) * b[i] : 0;
        real right = t[i + k + 1] > t[i + 1]
                     ? (t[i + k + 1] - v) / (t[i + k + 1] - t[i + 1]) * b[i + 1] : 0;
        b[i] = left + right;
      }
    }
    real total = 0;
    for (i in 1:nb) {
      total += c[i] * b[i];
    }
    return total;
  }
  // B-spline scale S(s) / S(s_nw), S = sum_i c_i B_i(s), c_0 = 1, s = (x - consts[1]) / consts[2]
  // (observed region centre and half-width); consts[3:] the knot vector in s. Midpoint rule.
  vector bspline_antideriv(vector x, vector par, real nw, real lsf_fwhm, vector consts) {
    int n = rows(x);
    int nb = rows(par);
    // the coefficients with c_0 = 1 (built anew: par's copy, assigned an element, would change
    // par itself in the threaded program's struct-of-arrays vectors, soa.py)
    vector[nb] c = append_row(rep_vector(1, 1), tail(par, nb - 1));
    int nt = rows(consts) - 2;
    vector[n - 1] s = (midpoints(x) - consts[1]) / consts[2];
    vector[n - 1] value;
    for (k in 1:(n - 1)) {
      value[k] = bspline_sum(s[k], c, segment(consts, 3, nt));
    }
    return midpoint_antideriv(x, par[1] / bspline_sum((nw - consts[1]) / consts[2], c,
                                                      segment(consts, 3, nt))
                                 * value);
  }
