  // DLAPowerLaw scale (x / nw)^beta T(x_r) with the absorber's rest-frame wavelengths in A,
  // x_r = consts[1] x / (1 + consts[2] + redshift) (consts[1]: A per wavelength unit,
  // consts[2]: z_sys); T = 0 for x_r <= consts[3] (Lyman alpha, A), else exp(-N_HI sigma),
  // sigma = K lambda[km] / b H(a, u), u = c (1215.67 - x_r) / (x_r b), a = A lambda[km] / (4 pi b),
  // with c, A, K, lambda[km] = consts[4:7]. par: scale, beta, log_NHI, b, redshift. Midpoint
  // rule.
  vector dlapowerlaw_antideriv(vector x, vector par, real nw, real lsf_fwhm, vector consts) {
    int n = rows(x);
    vector[n - 1] mid = midpoints(x);
    vector[n - 1] lam = consts[1] * mid / (1 + consts[2] + par[5]);
    real b = par[4];
    real a = consts[5] * consts[7] / (4 * pi() * b);
    real depth = pow(10, par[3]) * consts[6] * consts[7] / b;
    vector[n - 1] u = consts[4] * (consts[3] - lam) ./ (lam * b);
    vector[n - 1] above;  // 1 above Lyman alpha, 0 at and below it
    for (k in 1:(n - 1)) {
      above[k] = lam[k] > consts[3];
    }
    return midpoint_antideriv(x, par[1] * (pow(mid / nw, par[2])
                                           .* (above .* exp(-depth * voigt_hjerting(
                                                                 rep_vector(a, n - 1), u)))));
  }
