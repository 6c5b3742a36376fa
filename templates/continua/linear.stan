  // Linear continuum scale + tan(angle) (x - nw): antiderivative at the edges.
  vector linear_antideriv(vector x, vector par, real nw, real lsf_fwhm, vector consts) {
    vector[rows(x)] d = x - nw;
    return d .* (par[1] + (0.5 * tan(par[2])) * d);
  }
  // The same line as its value at centre and its slope (the continuum statistics' terms).
  vector linear_affine(vector par, real nw, real centre) {
    real slope = tan(par[2]);
    return [par[1] + slope * (centre - nw), slope]';
  }
