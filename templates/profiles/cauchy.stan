  // Cauchy (Lorentzian) line of FWHM width[1] convolved with the LSF: the pseudo-Voigt whose
  // Gaussian is the LSF alone; twice its cumulative profile less 1 at the pixel edges.
  vector cauchy_cumulative(vector edge, real centre, vector width, vector lsf_fwhm2) {
    return unite_pseudovoigt_cumulative(edge - centre, sqrt(lsf_fwhm2), width[1]);
  }
