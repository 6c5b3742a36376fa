  // c[1] + r c[2] + ... + r^6 c[7] by Horner's rule, elementwise. (fma steps measured 10 %
  // faster in the struct-of-arrays program but 1.6x slower in the serial text absorbers run:
  // benchmarks/profile_cost_program.py, docs/performance.md.)
  vector unite_poly6(vector r, vector c) {
    vector[rows(r)] acc = rep_vector(c[7], rows(r));
    for (k in 1:6) {
      acc = c[7 - k] + r .* acc;
    }
    return acc;
  }
  // Twice the cumulative of Ida, Ando & Toraya's (2000) extended pseudo-Voigt less 1, at x
  // from the centre, for Gaussian FWHMs g (the LSF included, one per x) and a Lorentzian FWHM
  // l: a mixture of a Gaussian, a Lorentzian, an irrational and a squared-sech component whose
  // widths and weights are polynomials (their Table 1) in rho = l / (g + l). Written on whole
  // vectors, without loops over x, so that stanc keeps them as single autodiff nodes.
  vector unite_pseudovoigt_cumulative(vector x, vector g, real l) {
    vector[rows(x)] total = g + l;
    vector[rows(x)] rho = l ./ total;
    vector[rows(x)] mix = rho .* (1 - rho);
    vector[rows(x)] w_g = total .* (1 - rho .* unite_poly6(rho, [0.66000, 0.15021, -1.24984, 4.74052, -9.48291, 8.48252, -2.95553]'));
    vector[rows(x)] w_l = total .* (1 - (1 - rho) .* unite_poly6(rho, [-0.42179, -1.25693, 10.30003, -23.45651, 29.14158, -16.50453, 3.19974]'));
    vector[rows(x)] w_i = total .* unite_poly6(rho, [1.19913, 1.43021, -15.36331, 47.06071, -73.61822, 57.92559, -17.80614]');
    vector[rows(x)] w_p = total .* unite_poly6(rho, [1.10186, -0.47745, -0.68688, 2.76622, -4.55466, 4.05475, -1.26571]');
    vector[rows(x)] eta_l = rho + mix .* unite_poly6(rho, [-0.30165, -1.38927, 9.31550, -24.10743, 34.96491, -21.18862, 3.70290]');
    vector[rows(x)] eta_i = mix .* unite_poly6(rho, [0.25437, -0.14107, 3.23653, -11.09215, 22.10544, -24.12407, 9.76947]');
    vector[rows(x)] eta_p = mix .* unite_poly6(rho, [1.01579, 1.50429, -9.21815, 23.59717, -39.71134, 32.83023, -10.02142]');
    // irrational component: gamma_i = w_i / (2 sqrt(2^(2/3) - 1)); squared sech:
    // gamma_p = w_p / (2 ln(1 + sqrt 2))
    vector[rows(x)] t = x ./ (w_i * 0.6523830132520534);
    return (1 - eta_l - eta_i - eta_p) .* erf(1.6651092223153954 * x ./ w_g)
           + eta_l .* atan(2 * x ./ w_l) * 0.6366197723675814
           + eta_i .* t ./ sqrt(1 + square(t))
           + eta_p .* tanh(x ./ (w_p * 0.5672963285532555));
  }
