  // Cauchy (Lorentzian) line of FWHM width[1] convolved with the LSF: the pseudo-Voigt whose
  // Gaussian is the LSF alone; twice its cumulative profile less 1 at the pixel edges.
  vector cauchy_cumulative(vector edge, real centre, vector width, vector lsf_fwhm2) {
    int n = rows(edge);
    vector[n] out;
    for (i in 1:n) {
      out[i] = unite_pseudovoigt_cumulative(edge[i] - centre, sqrt(lsf_fwhm2[i]), width[1]);
    }
    return out;
  }
