  // Laplace line (FWHM 2 b ln 2) convolved with the LSF: twice its cumulative profile less 1
  // at the pixel edges. The Gaussian is the LSF alone (SEMG without an intrinsic Gaussian).
  vector laplace_cumulative(vector edge, real centre, vector width, vector lsf_fwhm2) {
    return unite_semg_cumulative(edge - centre, lsf_fwhm2, width[1]);
  }
  // Intrinsic density at the centre (the LSF 1e-10, as unite's tau normalisation):
  // (lambda / 2) erfcx(a), lambda = 2 ln 2 / FWHM, a = lambda sigma / sqrt 2.
  real laplace_peak(vector width) {
    real lambda = 1.3862943611198906 / width[1];
    real sigma = 1e-10 * 0.42466090014400953;
    return 0.5 * lambda * unite_erfcx([lambda * sigma / sqrt2()]')[1];
  }
