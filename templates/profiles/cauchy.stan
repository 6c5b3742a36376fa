  // Cauchy (Lorentzian) line of FWHM width[1] convolved with the LSF: the pseudo-Voigt whose
  // Gaussian is the LSF alone; twice its cumulative profile less 1 at the pixel edges.
  vector cauchy_cumulative(vector edge, real centre, vector width, vector lsf_fwhm2) {
    return unite_pseudovoigt_cumulative(edge - centre, sqrt(lsf_fwhm2), width[1]);
  }
  // Intrinsic density at the centre (the LSF 1e-10, as unite's tau normalisation): the Voigt
  // of Gaussian sigma 1e-10 FWHM_TO_SIGMA, Re w(i y) = erfcx(y) / (sigma sqrt(2 pi)).
  real cauchy_peak(vector width) {
    real sigma = 1e-10 * 0.42466090014400953;
    return unite_erfcx([0.5 * width[1] / (sigma * sqrt2())]')[1] / (sigma * 2.5066282746310002);
  }
