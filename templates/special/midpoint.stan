  // Midpoints of consecutive edges x.
  vector midpoints(vector x) {
    int n = rows(x);
    return 0.5 * (x[2:n] + x[1:(n - 1)]);
  }
  // The midpoint rule's antiderivative at the edges x from the values at their midpoints:
  // 0 at x[1], then the cumulative sum of value * width (a pixel's average is its value).
  vector midpoint_antideriv(vector x, vector value) {
    int n = rows(x);
    return append_row(0, cumulative_sum(value .* (x[2:n] - x[1:(n - 1)])));
  }
