  // Boxcar of full width width[1] convolved with a Gaussian (FWHM width[2], the LSF in
  // quadrature): twice the cumulative profile less 1 at the pixel edges. The cumulative is
  // evaluated at -|x| and reflected, so the upper tail does not cancel; a box much narrower
  // than the Gaussian goes through its Taylor series in h / sigma.
  vector boxgauss_cumulative(vector edge, real centre, vector width, vector lsf_fwhm2) {
    int n = rows(edge);
    vector[n] out;
    for (i in 1:n) {
      real sigma = sqrt(lsf_fwhm2[i] + square(width[2])) * 0.42466090014400953;
      // -|x| / sigma, written without abs so its derivative survives at x = 0
      real u = (edge[i] <= centre ? edge[i] - centre : centre - edge[i]) / sigma;
      real delta = 0.5 * width[1] / sigma;
      real below;
      if (delta * (1 + abs(u)) < 2e-3) {
        real d2 = square(delta);
        below = 0.5 * erfc(-u * inv_sqrt(2))
                - exp(-0.5 * square(u)) * 0.3989422804014327
                  * (d2 / 6 * u + square(d2) / 120 * u * (square(u) - 3));
      } else {
        real hi = u + delta;
        real lo = u - delta;
        // integral of Phi up to v: v Phi(v) + phi(v)
        below = (hi * 0.5 * erfc(-hi * inv_sqrt(2)) + exp(-0.5 * square(hi)) * 0.3989422804014327
                 - lo * 0.5 * erfc(-lo * inv_sqrt(2)) - exp(-0.5 * square(lo)) * 0.3989422804014327)
                / (2 * delta);
      }
      out[i] = edge[i] <= centre ? 2 * below - 1 : 1 - 2 * below;
    }
    return out;
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
