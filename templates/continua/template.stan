  // Template sum_col scale_col T_col(x_r) / T_col(nw_r) at rest-frame wavelengths
  // x_r = consts[1] x (consts[1] = 1 / (1 + z_sys)), interpolated linearly and clamped at the
  // template's ends. consts[2:] holds the template's wavelengths, then each column's values.
  // Midpoint rule.
  vector template_antideriv(vector x, vector par, real nw, real lsf_fwhm, vector consts) {
    int ncol = rows(par);
    int nt = (rows(consts) - 1) %/% (ncol + 1);
    int n = rows(x);
    vector[n - 1] lam = consts[1] * midpoints(x);
    real nw_r = consts[1] * nw;
    vector[n - 1] value = rep_vector(0, n - 1);
    for (c in 1:ncol) {
      real w = par[c] / interp_clamped(nw_r, segment(consts, 2, nt),
                                       segment(consts, 2 + c * nt, nt));
      for (k in 1:(n - 1)) {
        value[k] += w * interp_clamped(lam[k], segment(consts, 2, nt),
                                       segment(consts, 2 + c * nt, nt));
      }
    }
    return midpoint_antideriv(x, value);
  }
