  // Pseudo-Voigt line (Gaussian FWHM width[1] with the LSF in quadrature, Lorentzian FWHM
  // width[2]): twice its cumulative profile less 1 at the pixel edges.
  vector pseudovoigt_cumulative(vector edge, real centre, vector width, vector lsf_fwhm2) {
    return unite_pseudovoigt_cumulative(edge - centre, sqrt(lsf_fwhm2 + square(width[1])),
                                        width[2]);
  }
  // Intrinsic density at the centre (the LSF 1e-10, as unite's tau normalisation): the exact
  // Voigt at its centre, erfcx(gamma / (sigma sqrt 2)) / (sigma sqrt(2 pi)).
  real pseudovoigt_peak(vector width) {
    real sigma = sqrt(1e-20 + square(width[1])) * 0.42466090014400953;
    return unite_erfcx([0.5 * width[2] / (sigma * sqrt2())]')[1] / (sigma * 2.5066282746310002);
  }
