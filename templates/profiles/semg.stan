  // Gaussian (FWHM width[1], the LSF in quadrature) convolved with a symmetric Laplace (FWHM
  // width[2]): twice its cumulative profile less 1 at the pixel edges.
  vector semg_cumulative(vector edge, real centre, vector width, vector lsf_fwhm2) {
    int n = rows(edge);
    vector[n] out;
    for (i in 1:n) {
      out[i] = unite_semg_cumulative(edge[i] - centre, lsf_fwhm2[i] + square(width[1]),
                                     width[2]);
    }
    return out;
  }
