  // Faddeeva function w(z) = exp(-z^2) erfc(-i z) for z = x + i y, y >= 0, and the
  // Voigt-Hjerting function H(a, x) = Re w(x + i a). Public: faddeeva_re, faddeeva_im and
  // voigt_hjerting, each for real or (elementwise) vector arguments; the faddeeva_*_ functions
  // are internal.
  //
  // Algorithm (unite_stan/special.py evaluates the same one in numpy):
  // * |z| < 27.5: the trapezoidal rule with step h = 1/2 for
  //   w(z) = (i / pi) int exp(-t^2) / (z - t) dt, with the exact correction for the pole at
  //   t = z (Chiarella & Reichel 1968, Math. Comp. 22, 137; Hunter & Regan 1972, Math. Comp.
  //   26, 539):
  //     w(z) = (i h / pi) sum_k exp(-t_k^2) / (z - t_k) + 2 exp(-z^2) / (1 - s exp(-2 pi i z / h))
  //   on the nodes t_k = k h (s = 1) or t_k = (k + 1/2) h (s = -1), whichever keeps x at least
  //   h / 4 away from every node, so the two terms never cancel (the shifted nodes of Zaghloul &
  //   Ali 2011, ACM TOMS 38, 15, algorithm 916). Pairing +t_k and -t_k, the sum's real part is
  //   y times a positive sum and the correction's real part is exp(-x^2) on the real axis, so
  //   Re w keeps its relative accuracy where it is tiny (large |x|, small y). Aliasing error
  //   ~ 2 exp(-pi^2 / h^2) = 1.4e-17; nodes up to t = 6 (s = 1) or 5.75 (s = -1).
  // * 27.5 <= |z|, |x| < 4096, y < 4096: Laplace's continued fraction (Gautschi 1970, SIAM J.
  //   Numer. Anal. 7, 187) to 6 levels; exp(-x^2) underflows there.
  // * |x| >= 4096 or y >= 4096: its first level, w = (i / sqrt(pi)) z / (z^2 - 1/2), relative
  //   error < 1 / (2 |z|^4) < 2e-15.
  // Accuracy, measured against mpmath (6000 points over all regions) and scipy.special.wofz
  // (tests/test_special.py): relative error below 1e-13 in Re w and in Im w for y in [0, 1e4]
  // (y = 0 and subnormal y included) and |x| <= 1e6; only where w is itself subnormal
  // (< 2.2e-308) is the error merely absolute. Inputs must be finite, y >= 0 (rejected otherwise).
  //
  // Gradients. Reverse-mode autodiff through the ~200 operations above would put as many nodes
  // per point on the tape (~10x slower). Instead w, w' = -2 z w + 2 i / sqrt(pi) and
  // w'' = -2 w - 2 z w' are evaluated in double precision at a point z0 next to z, and the
  // result is their second-order Taylor polynomial in z - z0: 7 tape nodes for Re w, with
  // derivatives exact but for terms in |z - z0|^2. z0 keeps the leading 28 bits of x and y
  // (found by comparisons, which put nothing on the tape; |x| or y below 2^-50 becomes 0), so
  // |dx| <= 2^-27 |x|, and the value errs by ~(2 |x| dx)^3 / 6 < 2e-16 relative, the gradient
  // by ~(2 |x| dx)^2 / 2 < 6e-11 relative (worst for Re w on the real axis at |x| ~ 26).
  // Every call of a Stan function with parameter arguments puts one placeholder node on the
  // tape, so the comparisons are written inline rather than in small helpers. Each public
  // function is overloaded (real and vector arguments) because stanc --O1 inlines calls of
  // functions with a single signature into the model block, whose locals are all autodiff
  // variables: the double-precision evaluation would then be taped after all.

  // (Re w, Im w, Re w', Im w', Re w''/2, Im w''/2) at x + i y, y >= 0, |x| < 4096, y < 4096,
  // in double precision: it is only ever called with double arguments (the snapped point).
  tuple(real, real, real, real, real, real) faddeeva_taylor_(real x, real y) {
    real r = square(x) + square(y);
    real wr;
    real wi;
    real dr;
    real di;
    if (r >= 756.25) {
      // w = (i / sqrt(pi)) / F with F = z - (1/2) / G, G = z - 1 / (z - (3/2) / (z - ...)).
      // Then z w - i / sqrt(pi) = (i / sqrt(pi)) (1/2) / (G F), so w' = -(i / sqrt(pi)) / (G F)
      // without the cancellation of -2 z w + 2 i / sqrt(pi) at large |z|.
      real fr = x;
      real fi = y;
      real gr = x;
      real gi = y;
      for (k in 1:6) {
        real d = (3.5 - 0.5 * k) / (square(fr) + square(fi));  // levels 3, 5/2, ..., 1/2
        gr = fr;
        gi = fi;
        fr = x - gr * d;
        fi = y + gi * d;
      }
      real f2 = 0.5641895835477563 / (square(fr) + square(fi));  // 1 / sqrt(pi)
      real pr = gr * fr - gi * fi;
      real pi_ = gr * fi + gi * fr;
      real p2 = 0.5641895835477563 / (square(pr) + square(pi_));
      wr = fi * f2;
      wi = fr * f2;
      dr = -pi_ * p2;
      di = -pr * p2;
    } else {
      // Node pairs +-t: z / (z^2 - t^2) = (x (r - t^2) - i y (r + t^2)) / D with
      // D = |z^2 - t^2|^2 = (x^2 - y^2 - t^2)^2 + (2 x y)^2 and r = |z|^2. Weights
      // c = exp(-t^2) by recurrence (halved at t = 0, which has no partner).
      real x0 = square(x) - square(y);
      real k2 = square(2 * x * y);
      real a = 0;  // sum c / D
      real b = 0;  // sum c t^2 / D
      real f = 0;  // sum c t^4 / D
      real c;
      real q;
      real s;
      if (abs(2 * x - round(2 * x)) >= 0.25) {
        // nodes t = 0, 1/2, ..., 6
        s = 1;
        a = 0.5 / square(r);
        c = 1;
        q = 0.7788007830714049;  // exp(-1/4)
        for (m in 1:12) {
          c *= q;
          q *= 0.6065306597126334;  // exp(-1/2)
          real t2 = 0.25 * m * m;
          real inv = c / (square(x0 - t2) + k2);
          real u = t2 * inv;
          real u2 = t2 * u;  // its own statement: stanc would turn f += t2 * u into fma()
          a += inv;
          b += u;
          f += u2;
        }
      } else {
        // nodes t = 1/4, 3/4, ..., 23/4
        s = -1;
        c = 0.9394130628134758;  // exp(-1/16)
        q = 0.6065306597126334;
        for (m in 0:11) {
          real t2 = square((2 * m + 1) * 0.25);
          real inv = c / (square(x0 - t2) + k2);
          real u = t2 * inv;
          real u2 = t2 * u;
          a += inv;
          b += u;
          f += u2;
          c *= q;
          q *= 0.6065306597126334;
        }
      }
      real sr = 0.3183098861837907 * y * (a * r + b);  // the sum S: 2 h / pi = 1 / pi
      real si = 0.3183098861837907 * x * (a * r - b);
      // Pole correction C = 2 exp(-z^2) / (1 - s exp(-2 pi i z / h))
      // = -2 s exp(-z^2 + 2 pi i z / h) / (1 - s exp(2 pi i z / h)), which cannot overflow.
      // Its log-modulus y^2 - 4 pi y - x^2 = (y - 2 pi)^2 - 4 pi^2 - x^2 is mirrored to
      // -(y - 2 pi)^2 - 4 pi^2 - x^2 above y = pi / h = 2 pi, where the rule needs no correction
      // (the term is then below 2 exp(-4 pi^2) = 1.4e-17 and falls off; C^1 at 2 pi). The node
      // choice makes s cos(phi) <= 0, so the denominator is >= 1 and |C| <= |g|: below
      // 1e-18 Re S (for y = 1e-3, from |x| ~ 8 on) C is left out, saving sin, cos and exp.
      real v = y - 6.283185307179586;
      real g = -2 * s * exp((v < 0 ? square(v) : -square(v)) - 39.47841760435743 - square(x));
      real cr = 0;
      real ci = 0;
      if (abs(g) > 1e-18 * sr) {
        real rho = s * exp(-12.566370614359172 * y);
        real phi = 12.566370614359172 * x;
        real psi = phi - 2 * x * y;
        real nr = g * cos(psi);
        real ni = g * sin(psi);
        real er = 1 - rho * cos(phi);
        real ei = -rho * sin(phi);
        real dd = square(er) + square(ei);
        cr = (nr * er + ni * ei) / dd;
        ci = (ni * er - nr * ei) / dd;
      }
      wr = sr + cr;
      wi = si + ci;
      // w' = (2 i / sqrt(pi) - 2 z S) - 2 z C. As sum_k h exp(-t_k^2) = sqrt(pi) (to the
      // aliasing error), 2 i / sqrt(pi) - 2 z S = -(2 i h / pi) sum_k t_k exp(-t_k^2) / (z - t_k)
      // = -(2 i / pi) sum_pairs c t^2 / (z^2 - t^2) = -(4 / pi) x y b - (2 i / pi) (x0 b - f),
      // whose terms share one sign at large |x|: no cancellation, unlike -2 z w + 2 i / sqrt(pi).
      dr = -1.2732395447351628 * x * y * b - 2 * (x * cr - y * ci);  // 4 / pi
      di = -0.6366197723675814 * (x0 * b - f) - 2 * (x * ci + y * cr);  // 2 / pi
    }
    return (wr, wi, dr, di, -wr - (x * dr - y * di), -wi - (x * di + y * dr));
  }

  // The snapped coordinate s p unit (1 + m 2^-27), unit = 2^-50 (lo = 1) or 2^-19 (lo = 0);
  // all arguments are integers, so it is a double.
  real faddeeva_snap_(int s, int lo, int p, int m) {
    return s * p * (lo ? 8.881784197001252e-16 : 1.9073486328125e-06)
           * ((134217728 + m) * 7.450580596923828e-09);
  }

  // Second-order Taylor polynomials of Re w and Im w in (dx, dy) = z - z0 from
  // c = faddeeva_taylor_(z0): Re(w dz) = Re w' dx - Im w' dy and
  // Re(w''/2 dz^2) = Re(w''/2) (dx^2 - dy^2) - 2 Im(w''/2) dx dy; likewise for Im.
  real faddeeva_re_poly_(real dx, real dy, tuple(real, real, real, real, real, real) c) {
    return fma(dx, fma(c.5, dx, fma(-2 * c.6, dy, c.3)), fma(dy, fma(-c.5, dy, -c.4), c.1));
  }

  real faddeeva_im_poly_(real dx, real dy, tuple(real, real, real, real, real, real) c) {
    return fma(dx, fma(c.6, dx, fma(2 * c.5, dy, c.4)), fma(dy, fma(-c.6, dy, c.3), c.2));
  }

  // |x| >= 4096 or y >= 4096: w = (i / sqrt(pi)) z / (z^2 - 1/2), by autodiff. Writing
  // |z^2 - 1/2|^2 = |z - 2^-1/2|^2 |z + 2^-1/2|^2 keeps every factor positive and finite.
  real faddeeva_re_far_(real x, real y) {
    real r = square(x) + square(y);
    return 0.5641895835477563 * y / (square(x - 0.7071067811865476) + square(y))
           * ((r + 0.5) / (square(x + 0.7071067811865476) + square(y)));
  }

  real faddeeva_im_far_(real x, real y) {
    real r = square(x) + square(y);
    return 0.5641895835477563 * x / (square(x - 0.7071067811865476) + square(y))
           * ((r - 0.5) / (square(x + 0.7071067811865476) + square(y)));
  }

  // Elementwise Re w(x + i y) (part = 1) or Im w(x + i y) (part = 2), y >= 0.
  //
  // The snapped point z0 keeps the leading 28 bits of x and of y: |v| = p unit (1 + m 2^-27 + ...)
  // with unit = 2^-19 and p = 2^(e + 19) for the binade 2^e <= |v| < 2^(e + 1), e in [-19, 11],
  // or unit = 2^-50 and p = 2^(e + 50), e in [-50, -20] (lo = 1); p = m = 0 below 2^-50. All by
  // comparisons of v with doubles: integer products stay below 2^31, thresholds carry v's sign
  // (one comparison each), and sums of products are written so that stanc does not turn them
  // into fma(), a libm call. The bits of y are reused while y repeats (a line's damping is the
  // same at all its pixels).
  vector faddeeva_part_(vector x, vector y, int part) {
    int n = rows(x);
    vector[n] out;
    int px = 0;
    int mx = 0;
    int py = 0;
    int my = 0;
    int lx = 0;
    int ly = 0;
    int iy = 0;  // the element whose y gave ly, py, my
    if (rows(y) != n) {
      reject("faddeeva: x has ", n, " elements and y has ", rows(y));
    }
    for (i in 1:n) {
      int sx = x[i] < 0 ? -1 : 1;
      if (!(y[i] >= 0)) {
        reject("faddeeva: y = ", y[i], "; w(x + i y) is implemented for y >= 0");
      }
      if (x[i] >= 4096 || x[i] <= -4096 || y[i] >= 4096) {
        out[i] = part == 1 ? faddeeva_re_far_(x[i], y[i]) : faddeeva_im_far_(x[i], y[i]);
      } else {
        for (j in 1:(iy > 0 && y[i] == y[iy] ? 1 : 2)) {
          real v = j == 1 ? x[i] : y[i];
          int sg = j == 1 ? sx : 1;
          int up = sg > 0;
          int lo = !(v >= 1.9073486328125e-06 || v <= -1.9073486328125e-06);
          int p = 0;
          int m = 0;
          if (v >= 8.881784197001252e-16 || v <= -8.881784197001252e-16) {  // 2^-50
            p = 1;
            for (k in 1:5) {
              int step = k == 1 ? 65536 : (k == 2 ? 256 : (k == 3 ? 16 : (k == 4 ? 4 : 2)));
              // |v| >= p step unit, unit = 2^-50 or 2^-19
              p = ((v >= sg * p * (lo ? 8.881784197001252e-16 : 1.9073486328125e-06) * step)
                   == up) ? p * step : p;
            }
            // 27 bits, 3 per step: the next digit counts the thresholds
            // T_k = p unit (1 + (m + k b) 2^-27), k = 1..7, that |v| reaches: seven independent
            // comparisons (a one-bit bisection would be a chain of dependent ones). With
            // q = sg p unit 2^-27 (a power of 2), sg T_k = q (2^27 + m) + k q b exactly; it is
            // written as a difference so that stanc does not make it an fma() call. For v < 0
            // the count of v >= sg T_k is 7 - digit.
            int b = 16777216;  // 2^24
            while (b > 0) {
              int hits = 0;
              for (k in 1:7) {
                // 2^-77 = 2^-50 2^-27, 2^-46 = 2^-19 2^-27
                hits += v >= sg * p * (lo ? 6.617444900424222e-24 : 1.4210854715202004e-14)
                             * (134217728 + m)
                             - k * -(sg * p * (lo ? 6.617444900424222e-24 : 1.4210854715202004e-14)
                                     * b);
              }
              int add = (up ? hits : 7 - hits) * b;
              m += add;
              b = b %/% 8;
            }
          }
          if (j == 1) {
            px = p;
            mx = m;
            lx = lo;
          } else {
            py = p;
            my = m;
            ly = lo;
            iy = i;
          }
        }
        // z0 is passed as expressions of integers, so faddeeva_taylor_ runs in double
        if (part == 1) {
          out[i] = faddeeva_re_poly_(x[i] - faddeeva_snap_(sx, lx, px, mx),
                                     y[i] - faddeeva_snap_(1, ly, py, my),
                                     faddeeva_taylor_(faddeeva_snap_(sx, lx, px, mx),
                                                      faddeeva_snap_(1, ly, py, my)));
        } else {
          out[i] = faddeeva_im_poly_(x[i] - faddeeva_snap_(sx, lx, px, mx),
                                     y[i] - faddeeva_snap_(1, ly, py, my),
                                     faddeeva_taylor_(faddeeva_snap_(sx, lx, px, mx),
                                                      faddeeva_snap_(1, ly, py, my)));
        }
      }
    }
    return out;
  }

  // Elementwise Re w(x + i y), y >= 0.
  vector faddeeva_re(vector x, vector y) {
    return faddeeva_part_(x, y, 1);
  }

  // Elementwise Im w(x + i y), y >= 0.
  vector faddeeva_im(vector x, vector y) {
    return faddeeva_part_(x, y, 2);
  }

  // Re w(x + i y), y >= 0.
  real faddeeva_re(real x, real y) {
    return faddeeva_part_([x]', [y]', 1)[1];
  }

  // Im w(x + i y), y >= 0.
  real faddeeva_im(real x, real y) {
    return faddeeva_part_([x]', [y]', 2)[1];
  }

  // Voigt-Hjerting function H(a, x) = Re w(x + i a), a >= 0.
  real voigt_hjerting(real a, real x) {
    return faddeeva_part_([x]', [a]', 1)[1];
  }

  // Elementwise H(a, x) = Re w(x + i a), a >= 0.
  vector voigt_hjerting(vector a, vector x) {
    return faddeeva_part_(x, a, 1);
  }
