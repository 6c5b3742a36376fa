  // The index lo of the interval [t[lo], t[lo + 1]] that holds v, for t increasing and
  // t[1] < v < t[rows(t)] (bisection).
  int interp_bracket(real v, vector t) {
    int lo = 1;
    int hi = rows(t);
    while (hi - lo > 1) {
      int m = (lo + hi) %/% 2;
      if (t[m] <= v) {
        lo = m;
      } else {
        hi = m;
      }
    }
    return lo;
  }
  // Linear interpolation of y(t) at v (t increasing), clamped to y's end values outside t.
  real interp_clamped(real v, vector t, vector y) {
    int n = rows(t);
    if (v <= t[1]) {
      return y[1];
    }
    if (v >= t[n]) {
      return y[n];
    }
    int lo = interp_bracket(v, t);
    return (y[lo + 1] - y[lo]) / (t[lo + 1] - t[lo]) * (v - t[lo]) + y[lo];
  }
  // interp_clamped(v, t, sqrt(y2)), taking the square root at the two bracketing points only
  // (a square root of the whole vector puts one autodiff node per element on the tape).
  real interp_sqrt_clamped(real v, vector t, vector y2) {
    int n = rows(t);
    if (v <= t[1]) {
      return sqrt(y2[1]);
    }
    if (v >= t[n]) {
      return sqrt(y2[n]);
    }
    int lo = interp_bracket(v, t);
    real y_lo = sqrt(y2[lo]);
    return (sqrt(y2[lo + 1]) - y_lo) / (t[lo + 1] - t[lo]) * (v - t[lo]) + y_lo;
  }
