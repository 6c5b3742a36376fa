  // Split normal: Gaussians of FWHM width[1] (blue, x <= 0) and width[2] (red), each with the
  // LSF in quadrature, weighted by their widths so the density is continuous: twice the
  // cumulative profile less 1 at the pixel edges.
  vector splitnormal_cumulative(vector edge, real centre, vector width, vector lsf_fwhm2) {
    int n = rows(edge);
    vector[n] out;
    for (i in 1:n) {
      real x = edge[i] - centre;
      real blue = sqrt(lsf_fwhm2[i] + square(width[1]));
      real red = sqrt(lsf_fwhm2[i] + square(width[2]));
      real w_blue = blue / (blue + red);
      out[i] = x <= 0 ? 2 * w_blue * erfc(-1.6651092223153954 * x / blue) - 1
                      : 1 - 2 * (1 - w_blue) * erfc(1.6651092223153954 * x / red);
    }
    return out;
  }
