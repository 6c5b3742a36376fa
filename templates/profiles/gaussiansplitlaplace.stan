  // Gaussian (FWHM width[1], the LSF in quadrature) convolved with an asymmetric Laplace of
  // blue and red FWHMs width[2], width[3]: twice its cumulative profile less 1 at the edges,
  // erf(t) - (W_r J(t, a_r) - W_b J(-t, a_b)) / (W_r + W_b).
  vector gaussiansplitlaplace_cumulative(vector edge, real centre, vector width,
                                         vector lsf_fwhm2) {
    real lam_b = 1.3862943611198906 / width[2];
    real lam_r = 1.3862943611198906 / width[3];
    vector[rows(edge)] x = edge - centre;
    vector[rows(edge)] s = sqrt(lsf_fwhm2 + square(width[1])) / 1.6651092223153954;
    vector[rows(edge)] t = x ./ s;
    return erf(t)
           - (width[3] * unite_exp_erfc(t, 0.5 * lam_r * s, lam_r * x)
              - width[2] * unite_exp_erfc(-t, 0.5 * lam_b * s, -lam_b * x))
             / (width[2] + width[3]);
  }
  // Intrinsic density at the centre (the LSF 1e-10, as unite's tau normalisation):
  // lambda_r lambda_b (erfcx(a_r) + erfcx(a_b)) / (2 (lambda_r + lambda_b)), a = s lambda / 2.
  real gaussiansplitlaplace_peak(vector width) {
    real lam_b = 1.3862943611198906 / width[2];
    real lam_r = 1.3862943611198906 / width[3];
    real s = sqrt(1e-20 + square(width[1])) / 1.6651092223153954;
    vector[2] x = unite_erfcx([0.5 * s * lam_r, 0.5 * s * lam_b]');
    return lam_r * lam_b * (x[1] + x[2]) / (2 * (lam_r + lam_b));
  }
