  // Laplace line (FWHM 2 b ln 2) convolved with the LSF: twice its cumulative profile less 1
  // at the pixel edges. The Gaussian is the LSF alone (SEMG without an intrinsic Gaussian).
  vector laplace_cumulative(vector edge, real centre, vector width, vector lsf_fwhm2) {
    return unite_semg_cumulative(edge - centre, lsf_fwhm2, width[1]);
  }
