  // Pseudo-Voigt line (Gaussian FWHM width[1] with the LSF in quadrature, Lorentzian FWHM
  // width[2]): twice its cumulative profile less 1 at the pixel edges.
  vector pseudovoigt_cumulative(vector edge, real centre, vector width, vector lsf_fwhm2) {
    return unite_pseudovoigt_cumulative(edge - centre, sqrt(lsf_fwhm2 + square(width[1])),
                                        width[2]);
  }
