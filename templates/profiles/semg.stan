  // Gaussian (FWHM width[1], the LSF in quadrature) convolved with a symmetric Laplace (FWHM
  // width[2]): twice its cumulative profile less 1 at the pixel edges.
  vector semg_cumulative(vector edge, real centre, vector width, vector lsf_fwhm2) {
    return unite_semg_cumulative(edge - centre, lsf_fwhm2 + square(width[1]), width[2]);
  }
  // Intrinsic density at the centre (the LSF 1e-10, as unite's tau normalisation):
  // (lambda / 2) erfcx(a), lambda = 2 ln 2 / width[2], a = lambda sigma / sqrt 2.
  real semg_peak(vector width) {
    real lambda = 1.3862943611198906 / width[2];
    real sigma = sqrt(1e-20 + square(width[1])) * 0.42466090014400953;
    return 0.5 * lambda * unite_erfcx([lambda * sigma / sqrt2()]')[1];
  }
