  // Split normal: Gaussians of FWHM width[1] (blue, x <= 0) and width[2] (red), each with the
  // LSF in quadrature, weighted by their widths so the density is continuous: twice the
  // cumulative profile less 1 at the pixel edges (which increase). Written on the two runs of
  // edges either side of the centre, without a loop over edges, so that stanc keeps whole
  // vectors as single autodiff nodes.
  vector splitnormal_cumulative(vector edge, real centre, vector width, vector lsf_fwhm2) {
    int n = rows(edge);
    int k = 0;
    while (k < n && edge[k + 1] <= centre) {
      k += 1;
    }
    vector[n] x = edge - centre;
    vector[n] blue = sqrt(lsf_fwhm2 + square(width[1]));
    vector[n] red = sqrt(lsf_fwhm2 + square(width[2]));
    vector[n] w_blue = blue ./ (blue + red);
    return append_row(
        2 * head(w_blue, k) .* erfc(-1.6651092223153954 * head(x, k) ./ head(blue, k)) - 1,
        1 - 2 * (1 - tail(w_blue, n - k))
            .* erfc(1.6651092223153954 * tail(x, n - k) ./ tail(red, n - k)));
  }
  // Intrinsic density at the centre (the LSF 1e-10, as unite's tau normalisation):
  // 1 / ((sigma_blue + sigma_red) sqrt(pi / 2)).
  real splitnormal_peak(vector width) {
    real sigma_sum = (sqrt(1e-20 + square(width[1])) + sqrt(1e-20 + square(width[2])))
                     * 0.42466090014400953;
    return 1 / (sigma_sum * 1.2533141373155001);
  }
