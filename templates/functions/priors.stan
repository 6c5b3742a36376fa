  // Uniform(low, high) on the logistic scale: value = low + (high - low) * inv_logit(u).
  // Prior density and Jacobian combine to log(s (1 - s)), s = inv_logit(u).
  real uniform_unc_lp(real u, real low, real high) {
    if (!(high > low)) {
      reject("Uniform prior with low = ", low, " >= high = ", high);
    }
    target += log_inv_logit(u) + log1m_inv_logit(u);
    return low + (high - low) * inv_logit(u);
  }

  // Normal(loc, scale) truncated to [low, high], on the same logistic scale.
  real truncnormal_unc_lp(real u, real loc, real scale, real low, real high) {
    if (!(high > low)) {
      reject("TruncatedNormal prior with low = ", low, " >= high = ", high);
    }
    real x = low + (high - low) * inv_logit(u);
    target += log(high - low) + log_inv_logit(u) + log1m_inv_logit(u)
              + normal_lpdf(x | loc, scale)
              - log_diff_exp(normal_lcdf(high | loc, scale), normal_lcdf(low | loc, scale));
    return x;
  }
