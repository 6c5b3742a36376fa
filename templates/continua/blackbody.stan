  // Blackbody scale B_lambda(x_r, T) / B_lambda(nw_r, T) at rest-frame wavelengths in um,
  // x_r = consts[1] x (consts[1]: um per wavelength unit / (1 + z_sys); consts[2]: hc / k).
  // Midpoint rule.
  vector blackbody_antideriv(vector x, vector par, real nw, real lsf_fwhm, vector consts) {
    vector[rows(x) - 1] lam = consts[1] * midpoints(x);
    return midpoint_antideriv(x, par[1] * planck_ratio(lam, consts[1] * nw, par[2], consts[2]));
  }
