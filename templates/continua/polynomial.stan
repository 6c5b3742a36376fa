  // Polynomial scale + sum_i c_i (x - nw)^i convolved with the region's Gaussian LSF
  // (x^n -> sum_j C(n, 2j) (2j - 1)!! sigma^(2j) x^(n - 2j)), then integrated.
  vector polynomial_antideriv(vector x, vector par, real nw, real lsf_fwhm,
                              vector consts) {
    int n = rows(par);
    real sigma = 0.42466090014400953 * lsf_fwhm;
    vector[n] b = rep_vector(0, n);
    for (k in 0:(n - 1)) {
      real dfact = 1;
      for (j in 0:(k %/% 2)) {
        if (j > 0) {
          dfact *= 2 * j - 1;
        }
        b[k - 2 * j + 1] += par[k + 1] * choose(k, 2 * j) * dfact * pow(sigma, 2 * j);
      }
    }
    vector[rows(x)] d = x - nw;
    vector[rows(x)] total = rep_vector(0, rows(x));
    for (m in 1:n) {
      total += b[m] * pow(d, m) / m;
    }
    return total;
  }
