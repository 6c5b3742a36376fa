  // Uniform(-pi/2, pi/2) sampled as the slope u = tan(angle) (the Linear continuum's angle):
  // the prior density 1 / pi and the Jacobian d angle / du = 1 / (1 + u^2).
  real uniform_slope_lp(real u, real low, real high) {
    if (low != -pi() / 2 || high != pi() / 2) {
      reject("the slope coordinate needs Uniform(-pi/2, pi/2), got low = ", low, ", high = ",
             high);
    }
    target += -log(pi()) - log1p(square(u));
    return atan(u);
  }
