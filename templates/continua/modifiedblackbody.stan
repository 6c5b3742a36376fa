  // Modified blackbody: the Blackbody times (x / nw)^beta (rest-frame um as the Blackbody's).
  vector modifiedblackbody_antideriv(vector x, vector par, real nw, real lsf_fwhm,
                                     vector consts) {
    vector[rows(x) - 1] lam = consts[1] * midpoints(x);
    real nw_r = consts[1] * nw;
    return midpoint_antideriv(x, par[1] * (planck_ratio(lam, nw_r, par[2], consts[2])
                                           .* pow(lam / nw_r, par[3])));
  }
