  // Skew-normal line (FWHM width[1], skewness alpha = width[2]; the Gaussian LSF convolution
  // gives a skew normal of skewness alpha W / sqrt(W^2 + (1 + alpha^2) L^2)): twice its
  // cumulative profile less 1 at the pixel edges, erf(z / sqrt 2) - 4 T(z, alpha_eff).
  vector skewnormal_cumulative(vector edge, real centre, vector width, vector lsf_fwhm2) {
    vector[rows(edge)] g2 = lsf_fwhm2 + square(width[1]);
    vector[rows(edge)] z = 2.3548200450309493 * (edge - centre) ./ sqrt(g2);
    vector[rows(edge)] alpha_eff = width[2] * width[1]
                                   ./ sqrt(g2 + square(width[2]) * lsf_fwhm2);
    return erf(z * inv_sqrt(2)) - 4 * owens_t(z, alpha_eff);
  }
  // Intrinsic density at the centre (the LSF 1e-10, as unite's tau normalisation): the skew
  // factor is 1 there, so the Gaussian's 1 / (sigma sqrt(2 pi)).
  real skewnormal_peak(vector width) {
    return 0.9394372786996513 / sqrt(1e-20 + square(width[1]));
  }
