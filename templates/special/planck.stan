  // B_lambda(lam, T) / B_lambda(nw, T) with wavelengths in um and hc_k = hc / k in um K:
  // (nw / lam)^5 exp(a - b) expm1(-a) / expm1(-b), a = hc / (k T nw), b = hc / (k T lam),
  // finite where exp(b) overflows.
  vector planck_ratio(vector lam, real nw, real temperature, real hc_k) {
    real x = hc_k / temperature;
    real a = x / nw;
    vector[rows(lam)] b = x ./ lam;
    return pow(nw ./ lam, 5) .* exp(a - b) .* (expm1(-a) ./ expm1(-b));
  }
