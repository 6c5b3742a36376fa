  // Gaussian line: cumulative profile at the pixel edges, less 1/2 (only its differences
  // between edges are used). The squared LSF FWHM of each edge adds to the squared intrinsic
  // FWHM; 2 sqrt(ln 2) x / FWHM is the erf argument.
  vector gaussian_cumulative(vector edge, real centre, vector width, vector lsf_fwhm2) {
    return 0.5 * erf(1.6651092223153954 * (edge - centre) ./ sqrt(lsf_fwhm2 + square(width[1])));
  }
