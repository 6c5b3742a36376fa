  // Gauss-Hermite line (FWHM width[1], h3 = width[2], h4 = width[3] of the intrinsic profile;
  // the LSF convolution scales them by r^3 and r^4, r = FWHM / total FWHM): twice its
  // cumulative profile less 1 at the pixel edges, erf(y / sqrt 2) - 2 phi(y) (c3 (y^2 - 1)
  // + c4 y (y^2 - 3)), with c3 = h3 r^3 / sqrt 6 and c4 = h4 r^4 / sqrt 24.
  vector gausshermite_cumulative(vector edge, real centre, vector width, vector lsf_fwhm2) {
    vector[rows(edge)] total = sqrt(lsf_fwhm2 + square(width[1]));
    vector[rows(edge)] r = width[1] ./ total;
    vector[rows(edge)] y = 2.3548200450309493 * (edge - centre) ./ total;
    vector[rows(edge)] y2 = square(y);
    return erf(y * inv_sqrt(2))
           - 0.7978845608028654 * exp(-0.5 * y2) .* r .* square(r)
             .* (width[2] / sqrt(6) * (y2 - 1) + width[3] / sqrt(24) * r .* y .* (y2 - 3));
  }
  // Intrinsic density at the centre (the LSF 1e-10, as unite's tau normalisation):
  // phi(0) / sigma (1 + 3 c4), c4 = h4 r^4 / sqrt 24.
  real gausshermite_peak(vector width) {
    real total = sqrt(1e-20 + square(width[1]));
    real c4 = width[3] * (width[1] / total) ^ 4 / sqrt(24);
    return 0.9394372786996513 / total * (1 + 3 * c4);
  }
