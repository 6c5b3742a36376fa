  // Boxcar of full width width[1] convolved with a Gaussian (FWHM width[2], the LSF in
  // quadrature): twice the cumulative profile less 1 at the pixel edges (which increase). The
  // cumulative is evaluated at -|x| and reflected, so the upper tail does not cancel; where the
  // box is much narrower than the Gaussian it goes through its Taylor series in h / sigma. Each
  // formula runs on its own edges only (picked by index), on whole vectors.
  vector boxgauss_cumulative(vector edge, real centre, vector width, vector lsf_fwhm2) {
    int n = rows(edge);
    int k = 0;
    while (k < n && edge[k + 1] <= centre) {
      k += 1;
    }
    vector[n] sigma = sqrt(lsf_fwhm2 + square(width[2])) * 0.42466090014400953;
    // -|x| / sigma, written without abs so its derivative survives at x = 0
    vector[n] u = append_row(head(edge, k) - centre, centre - tail(edge, n - k)) ./ sigma;
    vector[n] delta = 0.5 * width[1] ./ sigma;
    int n_taylor = 0;
    for (i in 1:n) {
      n_taylor += delta[i] * (1 - u[i]) < 2e-3;
    }
    array[n_taylor] int taylor;
    array[n - n_taylor] int exact;
    int j = 0;
    for (i in 1:n) {
      if (delta[i] * (1 - u[i]) < 2e-3) {
        j += 1;
        taylor[j] = i;
      } else {
        exact[i - j] = i;
      }
    }
    vector[n] below;
    {
      vector[n_taylor] v = u[taylor];
      vector[n_taylor] d2 = square(delta[taylor]);
      below[taylor] = 0.5 * erfc(-v * inv_sqrt(2))
                      - exp(-0.5 * square(v)) * 0.3989422804014327
                        .* (d2 / 6 .* v + square(d2) / 120 .* v .* (square(v) - 3));
    }
    {
      // the integral of Phi up to v is v Phi(v) + phi(v)
      vector[n - n_taylor] hi = u[exact] + delta[exact];
      vector[n - n_taylor] lo = u[exact] - delta[exact];
      below[exact] = (0.5 * hi .* erfc(-hi * inv_sqrt(2))
                      + exp(-0.5 * square(hi)) * 0.3989422804014327
                      - 0.5 * lo .* erfc(-lo * inv_sqrt(2))
                      - exp(-0.5 * square(lo)) * 0.3989422804014327)
                     ./ (2 * delta[exact]);
    }
    return append_row(2 * head(below, k) - 1, 1 - 2 * tail(below, n - k));
  }
  // Intrinsic density at the centre (the LSF 1e-10, as unite's tau normalisation):
  // erf(d / sqrt 2) / (2 d sigma), d = half box / sigma; its Taylor series for a narrow box.
  real boxgauss_peak(vector width) {
    real sigma = sqrt(1e-20 + square(width[2])) * 0.42466090014400953;
    real d = 0.5 * width[1] / sigma;
    if (d < 2e-3) {
      return (1 - square(d) / 6 + d ^ 4 / 40) / (sigma * 2.5066282746310002);
    }
    return erf(d / sqrt2()) / (2 * d * sigma);
  }
