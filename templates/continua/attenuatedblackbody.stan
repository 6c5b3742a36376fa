  // Attenuated blackbody: the Blackbody times exp(-tau_v ((x / ext)^alpha - (nw / ext)^alpha)),
  // rest-frame um as the Blackbody's, ext = consts[3] (lambda_ext in um).
  vector attenuatedblackbody_antideriv(vector x, vector par, real nw, real lsf_fwhm,
                                       vector consts) {
    vector[rows(x) - 1] lam = consts[1] * midpoints(x);
    real nw_r = consts[1] * nw;
    real ext = consts[3];
    return midpoint_antideriv(x, par[1] * (planck_ratio(lam, nw_r, par[2], consts[2])
                                           .* exp(-par[3] * (pow(lam / ext, par[4])
                                                             - pow(nw_r / ext, par[4])))));
  }
