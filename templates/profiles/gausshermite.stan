  // Gauss-Hermite line (FWHM width[1], h3 = width[2], h4 = width[3] of the intrinsic profile;
  // the LSF convolution scales them by r^3 and r^4, r = FWHM / total FWHM): twice its
  // cumulative profile less 1 at the pixel edges, erf(y / sqrt 2) - 2 phi(y) (c3 (y^2 - 1)
  // + c4 y (y^2 - 3)).
  vector gausshermite_cumulative(vector edge, real centre, vector width, vector lsf_fwhm2) {
    int n = rows(edge);
    vector[n] out;
    for (i in 1:n) {
      real total = sqrt(lsf_fwhm2[i] + square(width[1]));
      real r = width[1] / total;
      real c3 = width[2] * r ^ 3 / sqrt(6);
      real c4 = width[3] * r ^ 4 / sqrt(24);
      real y = (edge[i] - centre) / (total * 0.42466090014400953);
      out[i] = erf(y * inv_sqrt(2))
               - 2 * exp(-0.5 * square(y)) * 0.3989422804014327
                 * (c3 * (square(y) - 1) + c4 * y * (square(y) - 3));
    }
    return out;
  }
  // Intrinsic density at the centre (the LSF 1e-10, as unite's tau normalisation):
  // phi(0) / sigma (1 + 3 c4), c4 = h4 r^4 / sqrt 24.
  real gausshermite_peak(vector width) {
    real total = sqrt(1e-20 + square(width[1]));
    real c4 = width[3] * (width[1] / total) ^ 4 / sqrt(24);
    return 0.9394372786996513 / total * (1 + 3 * c4);
  }
