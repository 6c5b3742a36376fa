  // Gaussian (FWHM width[1], the LSF in quadrature) convolved with an asymmetric Laplace of
  // blue and red FWHMs width[2], width[3]: twice its cumulative profile less 1 at the edges,
  // erf(t) - (W_r J(t, a_r) - W_b J(-t, a_b)) / (W_r + W_b).
  vector gaussiansplitlaplace_cumulative(vector edge, real centre, vector width,
                                         vector lsf_fwhm2) {
    int n = rows(edge);
    real lam_b = 1.3862943611198906 / width[2];
    real lam_r = 1.3862943611198906 / width[3];
    vector[n] out;
    for (i in 1:n) {
      real x = edge[i] - centre;
      real s = sqrt(lsf_fwhm2[i] + square(width[1])) / 1.6651092223153954;
      real t = x / s;
      real red = unite_exp_erfc(t, 0.5 * s * lam_r, lam_r * x);
      real blue = unite_exp_erfc(-t, 0.5 * s * lam_b, -lam_b * x);
      out[i] = erf(t) - (width[3] * red - width[2] * blue) / (width[2] + width[3]);
    }
    return out;
  }
