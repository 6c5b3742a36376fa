  // Gaussian (FWHM width[1], the LSF in quadrature) convolved with a symmetric Laplace (FWHM
  // width[2]): twice its cumulative profile less 1 at the pixel edges.
  vector semg_cumulative(vector edge, real centre, vector width, vector lsf_fwhm2) {
    return unite_semg_cumulative(edge - centre, lsf_fwhm2 + square(width[1]), width[2]);
  }
