  // Gaussian line: twice its cumulative profile less 1 at the pixel edges (the program uses
  // differences between edges, halved). The squared LSF FWHM of each edge adds to the squared
  // intrinsic FWHM; 2 sqrt(ln 2) x / FWHM is the erf argument.
  vector gaussian_cumulative(vector edge, real centre, vector width, vector lsf_fwhm2) {
    return erf(1.6651092223153954 * (edge - centre) ./ sqrt(lsf_fwhm2 + square(width[1])));
  }
  // Intrinsic density at the centre (the LSF 1e-10, as unite's tau normalisation): the peak
  // optical depth of an absorber over this is its area optical depth.
  real gaussian_peak(vector width) {
    return 0.9394372786996513 / sqrt(1e-20 + square(width[1]));
  }
