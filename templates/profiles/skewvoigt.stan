  // The SkewVoigt's cumulative at the edges once its skew factor's k is known: each edge's
  // pseudo-Voigt content (Gaussian FWHM g with the edge's LSF in quadrature, Lorentzian FWHM
  // l) at x = edge - centre; then -1, and -1 plus the running sum of each pixel's content
  // (the differences of content, 2 CDF - 1 at the edges) times 1 + erf(k (x_i + x_i+1)) =
  // erfc(-k (x_i + x_i+1)).
  vector skewvoigt_edges(vector edge, real centre, real g, real l, vector lsf_fwhm2, real k) {
    int n = rows(edge);
    vector[n] x = edge - centre;
    vector[n] content = unite_pseudovoigt_cumulative(x, sqrt(lsf_fwhm2 + square(g)), l);
    return append_row(rep_vector(-1, 1),
                      cumulative_sum((content[2:n] - content[1:(n - 1)])
                                     .* erfc(-k * (x[2:n] + x[1:(n - 1)])))
                      - 1);
  }
  // SkewVoigt line (Gaussian FWHM width[1] with the LSF in quadrature, Lorentzian FWHM
  // width[2], skewness alpha = width[3]): unite's cumulative, built pixel by pixel, as twice it
  // less 1 at the pixel edges (-1 at the first). Each pixel's pseudo-Voigt content (Ida et al.'s
  // cumulative with each edge's LSF) is multiplied by 1 + erf(alpha_eff m / w0) at its midpoint
  // m. alpha_eff and w0 use one LSF FWHM, the edges' interpolated at the centre (clamped at the
  // ends): w0 is Thompson et al.'s (1987) Voigt FWHM C1 l + sqrt(C2 l^2 + g^2) over 2 sqrt(ln 2),
  // alpha_eff the skewness of the LSF-convolved Gaussian times unite's empirical boost. The
  // boost's log diverges as alpha or the Gaussian width goes to 0, so it is capped smoothly at
  // 50 (-log_sum_exp(-b, -50)); |alpha| counts as 1 at alpha = 0, and without a Lorentzian the
  // log is 0 without taking xi^0.53872 (whose derivative is infinite there). Written on whole
  // vectors, without loops over edges, so that stanc keeps them as single autodiff nodes.
  vector skewvoigt_cumulative(vector edge, real centre, vector width, vector lsf_fwhm2) {
    real lsf = interp_sqrt_clamped(centre, edge, lsf_fwhm2);
    real w0 = (0.5343107854377173 * width[2]
               + sqrt(0.21686644455963575 * square(width[2]) + square(lsf) + square(width[1])))
              / 1.6651092223153954;
    real w0_int = (0.5343107854377173 * width[2]
                   + sqrt(0.21686644455963575 * square(width[2]) + square(width[1])))
                  / 1.6651092223153954;
    real sigma_l = lsf * 0.42466090014400953;
    real sigma_g = width[1] * 0.42466090014400953;
    real eta = sigma_l / (sigma_g + 1e-30);
    real xi = 0.5 * width[2] / (sigma_g + 1e-30) / (eta + 1e-30);
    real log_boost = xi > 0
                     ? 0.27045 * xi ^ 0.53872 * eta ^ 1.0461 / (1 + 1.1286 * xi ^ 1.7778)
                       / (width[3] == 0 ? 1.0 : abs(width[3])) ^ 0.34693
                     : 0;
    real alpha_eff = width[3] * w0_int / sqrt(square(w0) + 2 * square(width[3] * sigma_l))
                     * exp(-log_sum_exp(-log_boost, -50));
    return skewvoigt_edges(edge, centre, width[1], width[2], lsf_fwhm2, 0.5 * alpha_eff / w0);
  }
  // Intrinsic density at the centre (the LSF 1e-10, as unite's tau normalisation), where the
  // skew factor is 1: the exact Voigt at its centre, erfcx(gamma / (sigma sqrt 2)) /
  // (sigma sqrt(2 pi)), as the pseudo-Voigt's.
  real skewvoigt_peak(vector width) {
    real sigma = sqrt(1e-20 + square(width[1])) * 0.42466090014400953;
    return unite_erfcx([0.5 * width[2] / (sigma * sqrt2())]')[1] / (sigma * 2.5066282746310002);
  }
