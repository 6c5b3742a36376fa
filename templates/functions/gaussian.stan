  // Gaussian line: cumulative profile at the pixel edges. The LSF FWHM of each edge is added
  // in quadrature to the intrinsic FWHM; 2 sqrt(ln 2) x / FWHM is the erf argument.
  vector gaussian_cumulative(vector edge, real centre, vector width, vector lsf_fwhm) {
    return 0.5 * (1 + erf(1.6651092223153954 * (edge - centre)
                          ./ sqrt(square(lsf_fwhm) + square(width[1]))));
  }
