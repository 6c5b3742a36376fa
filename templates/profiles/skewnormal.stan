  // Skew-normal line (FWHM width[1], skewness alpha = width[2]; the Gaussian LSF convolution
  // gives a skew normal of skewness alpha W / sqrt(W^2 + (1 + alpha^2) L^2)): twice its
  // cumulative profile less 1 at the pixel edges, erf(z / sqrt 2) - 4 T(z, alpha_eff).
  vector skewnormal_cumulative(vector edge, real centre, vector width, vector lsf_fwhm2) {
    int n = rows(edge);
    vector[n] out;
    for (i in 1:n) {
      real sigma = sqrt(lsf_fwhm2[i] + square(width[1])) * 0.42466090014400953;
      real alpha_eff = width[2] * width[1]
                       / sqrt(square(width[1]) + (1 + square(width[2])) * lsf_fwhm2[i]);
      real z = (edge[i] - centre) / sigma;
      out[i] = erf(z * inv_sqrt(2)) - 4 * owens_t(z, alpha_eff);
    }
    return out;
  }
  // Intrinsic density at the centre (the LSF 1e-10, as unite's tau normalisation): the skew
  // factor is 1 there, so the Gaussian's 1 / (sigma sqrt(2 pi)).
  real skewnormal_peak(vector width) {
    return 0.9394372786996513 / sqrt(1e-20 + square(width[1]));
  }
