  // Linear interpolation of y(t) at v (t increasing), clamped to y's end values outside t.
  real interp_clamped(real v, vector t, vector y) {
    int n = rows(t);
    if (v <= t[1]) {
      return y[1];
    }
    if (v >= t[n]) {
      return y[n];
    }
    int lo = 1;
    int hi = n;
    while (hi - lo > 1) {
      int m = (lo + hi) %/% 2;
      if (t[m] <= v) {
        lo = m;
      } else {
        hi = m;
      }
    }
    return (y[hi] - y[lo]) / (t[hi] - t[lo]) * (v - t[lo]) + y[lo];
  }
