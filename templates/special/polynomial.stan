  // Power series a (a[k] the coefficient of s^(k - 1)) convolved with a Gaussian of standard
  // deviation sigma: s^k -> sum_j C(k, 2j) (2j - 1)!! sigma^(2j) s^(k - 2j).
  vector poly_gauss_convolve(vector a, real sigma) {
    int n = rows(a);
    vector[n] b = rep_vector(0, n);
    for (k in 0:(n - 1)) {
      real dfact = 1;
      for (j in 0:(k %/% 2)) {
        if (j > 0) {
          dfact *= 2 * j - 1;
        }
        b[k - 2 * j + 1] += a[k + 1] * choose(k, 2 * j) * dfact * pow(sigma, 2 * j);
      }
    }
    return b;
  }
  // The power series a at s (Horner).
  real poly_at(vector a, real s) {
    int n = rows(a);
    real out = a[n];
    for (i in 1:(n - 1)) {
      out = out * s + a[n - i];
    }
    return out;
  }
  // The power series' antiderivative sum_k a[k] s^k / k (zero at s = 0) at each s (Horner).
  vector poly_integral(vector s, vector a) {
    int m = rows(a);
    vector[rows(s)] out = rep_vector(a[m] / m, rows(s));
    for (i in 1:(m - 1)) {
      out = out .* s + a[m - i] / (m - i);
    }
    return out .* s;
  }
