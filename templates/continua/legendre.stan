  // Legendre sum_i p_i P_i(u), p_0 = scale, u = (x - consts[1]) / consts[2] (observed region
  // centre and half-width), convolved with the region's LSF. consts[3:] is the power-series
  // matrix of P_0..P_order (column-major). No norm_wav.
  vector legendre_antideriv(vector x, vector par, real nw, real lsf_fwhm, vector consts) {
    int n = rows(par);
    vector[n] a = to_matrix(segment(consts, 3, n * n), n, n) * par;
    vector[n] b = poly_gauss_convolve(a, 0.42466090014400953 * lsf_fwhm / consts[2]);
    return (1 * consts[2]) * poly_integral((x - consts[1]) / consts[2], b);
  }
