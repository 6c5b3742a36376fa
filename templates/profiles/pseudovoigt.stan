  // Pseudo-Voigt line (Gaussian FWHM width[1] with the LSF in quadrature, Lorentzian FWHM
  // width[2]): twice its cumulative profile less 1 at the pixel edges.
  vector pseudovoigt_cumulative(vector edge, real centre, vector width, vector lsf_fwhm2) {
    int n = rows(edge);
    vector[n] out;
    for (i in 1:n) {
      out[i] = unite_pseudovoigt_cumulative(edge[i] - centre,
                                            sqrt(lsf_fwhm2[i] + square(width[1])), width[2]);
    }
    return out;
  }
