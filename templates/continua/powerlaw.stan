  // Power law scale (x / nw)^beta: antiderivative (logarithmic when beta = -1).
  vector powerlaw_antideriv(vector x, vector par, real nw, real lsf_fwhm, vector consts) {
    real beta = par[2];
    // a local (struct-of-arrays in the threaded program, soa.py): x / nw on data edges is an
    // array-of-structs expression, which Stan's multiply_log cannot return as one
    vector[rows(x)] u = x / nw;
    if (abs(beta + 1) < 1e-10) {
      return par[1] * nw * log(u);
    }
    return par[1] * nw * pow(u, beta + 1) / (beta + 1);
  }
