  // Twice the cumulative of Ida, Ando & Toraya's (2000) extended pseudo-Voigt less 1, at x
  // from the centre, for a Gaussian FWHM g (the LSF included) and a Lorentzian FWHM l: a
  // mixture of a Gaussian, a Lorentzian, an irrational and a squared-sech component whose
  // widths and weights are polynomials (their Table 1) in rho = l / (g + l).
  real unite_pseudovoigt_cumulative(real x, real g, real l) {
    real total = g + l;
    real rho = l / total;
    vector[7] p = [1, rho, rho ^ 2, rho ^ 3, rho ^ 4, rho ^ 5, rho ^ 6]';
    real w_g = total * (1 - rho * dot_product(p, [0.66000, 0.15021, -1.24984, 4.74052, -9.48291, 8.48252, -2.95553]'));
    real w_l = total * (1 - (1 - rho) * dot_product(p, [-0.42179, -1.25693, 10.30003, -23.45651, 29.14158, -16.50453, 3.19974]'));
    real w_i = total * dot_product(p, [1.19913, 1.43021, -15.36331, 47.06071, -73.61822, 57.92559, -17.80614]');
    real w_p = total * dot_product(p, [1.10186, -0.47745, -0.68688, 2.76622, -4.55466, 4.05475, -1.26571]');
    real eta_l = rho * (1 + (1 - rho) * dot_product(p, [-0.30165, -1.38927, 9.31550, -24.10743, 34.96491, -21.18862, 3.70290]'));
    real eta_i = rho * (1 - rho) * dot_product(p, [0.25437, -0.14107, 3.23653, -11.09215, 22.10544, -24.12407, 9.76947]');
    real eta_p = rho * (1 - rho) * dot_product(p, [1.01579, 1.50429, -9.21815, 23.59717, -39.71134, 32.83023, -10.02142]');
    real eta_g = 1 - eta_l - eta_i - eta_p;
    // irrational component: gamma_i = w_i / (2 sqrt(2^(2/3) - 1)); squared sech:
    // gamma_p = w_p / (2 ln(1 + sqrt 2))
    real t = x / (w_i * 0.6523830132520534);
    return eta_g * erf(1.6651092223153954 * x / w_g)
           + eta_l * 2 * atan(2 * x / w_l) / pi()
           + eta_i * t / sqrt(1 + square(t))
           + eta_p * tanh(x / (w_p * 0.5672963285532555));
  }
