  // Power law scale (x / nw)^beta: antiderivative (logarithmic when beta = -1).
  vector powerlaw_antideriv(vector x, vector par, real nw, real lsf_fwhm, vector consts) {
    real beta = par[2];
    if (abs(beta + 1) < 1e-10) {
      return par[1] * nw * log(x / nw);
    }
    return par[1] * nw * pow(x / nw, beta + 1) / (beta + 1);
  }
