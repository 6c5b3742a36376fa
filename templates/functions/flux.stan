  // Uniform(low, high) of a line flux. With c > 0 (low = 0) sampled as v with
  // value = low + w (1 - exp(-(c / w) softplus(v))), w = high - low: about c v where the flux
  // is well above c and well below high, so a posterior reaching zero meets no exponential wall
  // above its bulk; the prior density 1 / w and the Jacobian
  // d value / dv = c inv_logit(v) exp(-(c / w) softplus(v)). With c = 0 (other bounds) on the
  // logistic scale, as uniform_unc_lp.
  real uniform_flux_lp(real v, real low, real high, real c) {
    if (c == 0) {
      return uniform_unc_lp(v, low, high);
    }
    if (!(high > low)) {
      reject("Uniform prior with low = ", low, " >= high = ", high);
    }
    real w = high - low;
    real softplus = log1p_exp(v);
    target += -log(w) + log(c) + log_inv_logit(v) - c / w * softplus;
    return low - w * expm1(-c / w * softplus);
  }
