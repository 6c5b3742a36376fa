  // Midpoints of consecutive edges x.
  vector midpoints(vector x) {
    int n = rows(x);
    return 0.5 * (x[2:n] + x[1:(n - 1)]);
  }
  // The midpoint rule's antiderivative at the edges x from the values at their midpoints:
  // 0 at x[1], then the cumulative sum of value * width (a pixel's average is its value).
  vector midpoint_antideriv(vector x, vector value) {
    int n = rows(x);
    // (append_row(0, ...) and assigning out[2:n] do not compile for the struct-of-arrays
    // vectors of the threaded program, soa.py)
    return append_row(rep_vector(0, 1), cumulative_sum(value .* (x[2:n] - x[1:(n - 1)])));
  }
