  // TruncatedNormal with an open side, sampled as NumPyro samples it (the Jacobian added is the
  // map's): value = low + exp(u) on [low, inf), high - exp(u) on (-inf, high], u itself with
  // both sides open. The normalisers use normal_lcdf on the mirrored bound, which keeps its
  // precision far in the tail where normal_lccdf would round to log(0).
  real truncnormal_lower_lp(real u, real loc, real scale, real low) {
    real x = low + exp(u);
    target += u + normal_lpdf(x | loc, scale) - normal_lcdf(2 * loc - low | loc, scale);
    return x;
  }

  real truncnormal_upper_lp(real u, real loc, real scale, real high) {
    real x = high - exp(u);
    target += u + normal_lpdf(x | loc, scale) - normal_lcdf(high | loc, scale);
    return x;
  }

  real normal_open_lp(real u, real loc, real scale) {
    target += normal_lpdf(u | loc, scale);
    return u;
  }
