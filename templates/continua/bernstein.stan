  // Bernstein scale B~(t) / B(t_nw), B(t) = sum_i b_i C(n, i) t^i (1 - t)^(n - i), b_0 = 1,
  // t = (x - consts[1]) / consts[2] (the region's stretched observed bounds mapped to 0 and 1);
  // B~ is B convolved with the region's LSF. consts[3:] is the power-series matrix of the
  // basis (column-major).
  vector bernstein_antideriv(vector x, vector par, real nw, real lsf_fwhm, vector consts) {
    int n = rows(par);
    // the coefficients with c_0 = 1 (built anew: par's copy, assigned an element, would change
    // par itself in the threaded program's struct-of-arrays vectors, soa.py)
    vector[n] c = append_row(rep_vector(1, 1), tail(par, n - 1));
    vector[n] a = to_matrix(segment(consts, 3, n * n), n, n) * c;
    vector[n] b = poly_gauss_convolve(a, 0.42466090014400953 * lsf_fwhm / consts[2]);
    return (par[1] / poly_at(a, (nw - consts[1]) / consts[2]) * consts[2])
           * poly_integral((x - consts[1]) / consts[2], b);
  }
