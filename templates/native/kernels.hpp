// unite_stan native kernels (templates/native/kernels.hpp, inserted by unite_stan/stan/soa.py)
//
// Reverse-mode implementations of a few Stan functions of the program's `functions` block,
// each one autodiff node with its partial derivatives written out, instead of the tens of
// vector nodes the Stan text builds. The Stan text stays the definition: it runs wherever the
// function is evaluated on doubles (generated quantities, the serial program), and the tests
// compare these kernels with it and with the components' numpy twins (values and gradients).
// Each kernel evaluates its function element by element with the same operations, in the
// same order, as the Stan text.
//
// The branches soa.py writes into the functions are `if constexpr`, which g++ and clang
// accept in the C++14 the embedded backend compiles with (httpstan's services), as an
// extension; its warning is silenced for the rest of the program.
#include <boost/math/special_functions/owens_t.hpp>
#include <cmath>
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wc++17-extensions"
#endif

namespace unite_native {

using Eigen::VectorXd;

template <typename... Ts>
using any_autodiff = stan::math::disjunction<stan::is_autodiff<stan::scalar_type_t<Ts>>...>;

template <typename T>
constexpr bool is_ad = stan::is_autodiff<stan::scalar_type_t<T>>::value;

// A vector argument's values, read once.
template <typename T>
VectorXd values(const T& x) {
  return stan::math::value_of(x);
}
template <typename T>
double scalar_value(const T& x) {
  return stan::math::value_of(x);
}

// sum of adj .* partial: what a scalar argument's adjoint gains
template <typename A>
double weighted_sum(const A& adj, const stan::arena_t<VectorXd>& partial) {
  double total = 0;
  for (Eigen::Index i = 0; i < adj.size(); ++i) {
    total += adj.coeff(i) * partial.coeff(i);
  }
  return total;
}

// Adds adj .* partial to a vector argument's adjoints (an arena copy of it), or its sum to a
// scalar's; nothing for data.
template <typename T, typename A>
void add_adjoint(T& x, const A& adj, const stan::arena_t<VectorXd>& partial) {
  if constexpr (is_ad<T>) {
    if constexpr (stan::is_eigen<T>::value || stan::is_var_matrix<T>::value) {
      for (Eigen::Index i = 0; i < adj.size(); ++i) {
        x.adj().coeffRef(i) += adj.coeff(i) * partial.coeff(i);
      }
    } else {
      x.adj() += weighted_sum(adj, partial);
    }
  }
}

constexpr double two_over_sqrt_pi = 1.1283791670955126;
constexpr double inv_sqrt_pi = 0.5641895835477563;

// ---- unite_pseudovoigt_cumulative(vector x, vector g, real l) ----------------------------
// Ida, Ando & Toraya's extended pseudo-Voigt (templates/special/pseudovoigt.stan).
namespace pv {
constexpr double C[7][7] = {
    {0.66000, 0.15021, -1.24984, 4.74052, -9.48291, 8.48252, -2.95553},
    {-0.42179, -1.25693, 10.30003, -23.45651, 29.14158, -16.50453, 3.19974},
    {1.19913, 1.43021, -15.36331, 47.06071, -73.61822, 57.92559, -17.80614},
    {1.10186, -0.47745, -0.68688, 2.76622, -4.55466, 4.05475, -1.26571},
    {-0.30165, -1.38927, 9.31550, -24.10743, 34.96491, -21.18862, 3.70290},
    {0.25437, -0.14107, 3.23653, -11.09215, 22.10544, -24.12407, 9.76947},
    {1.01579, 1.50429, -9.21815, 23.59717, -39.71134, 32.83023, -10.02142}};
// value and derivative of polynomial k at r, Horner's rule as unite_poly6
inline void poly(int k, double r, double& value, double& slope) {
  double acc = C[k][6];
  double d = 0;
  for (int j = 1; j <= 6; ++j) {
    d = acc + r * d;
    acc = C[k][6 - j] + r * acc;
  }
  value = acc;
  slope = d;
}
}  // namespace pv

// One edge of it: the value (2 CDF - 1) at x with Gaussian FWHM g and Lorentzian FWHM l,
// and its derivatives in x, g and l.
inline void pseudovoigt_element(double x, double g, double l, double& out, double& d_x,
                                double& d_g, double& d_l) {
  const double total = g + l;
  const double rho = l / total;
  const double mix = rho * (1 - rho);
  const double d_mix = 1 - 2 * rho;
  double p[7], dp[7];
  for (int k = 0; k < 7; ++k) {
    pv::poly(k, rho, p[k], dp[k]);
  }
  // widths (w) and their derivatives in rho at fixed total (dw); d w / d total = w / total
  const double w_g = total * (1 - rho * p[0]);
  const double dw_g = -total * (p[0] + rho * dp[0]);
  const double w_l = total * (1 - (1 - rho) * p[1]);
  const double dw_l = total * (p[1] - (1 - rho) * dp[1]);
  const double w_i = total * p[2];
  const double dw_i = total * dp[2];
  const double w_p = total * p[3];
  const double dw_p = total * dp[3];
  const double eta_l = rho + mix * p[4];
  const double deta_l = 1 + d_mix * p[4] + mix * dp[4];
  const double eta_i = mix * p[5];
  const double deta_i = d_mix * p[5] + mix * dp[5];
  const double eta_p = mix * p[6];
  const double deta_p = d_mix * p[6] + mix * dp[6];
  const double eta_g = 1 - eta_l - eta_i - eta_p;
  // components (each 2 CDF - 1) and their derivatives in x and in their width
  const double u = 1.6651092223153954 * x / w_g;
  const double gauss = std::erf(u);
  const double gauss_u = two_over_sqrt_pi * std::exp(-u * u);
  const double v = 2 * x / w_l;
  const double lorentz = std::atan(v) * 0.6366197723675814;
  const double lorentz_v = 0.6366197723675814 / (1 + v * v);
  const double t = x / (w_i * 0.6523830132520534);
  const double root = std::sqrt(1 + t * t);
  const double irr = t / root;
  const double irr_t = 1 / (root * root * root);
  const double q = x / (w_p * 0.5672963285532555);
  const double sech = std::tanh(q);
  const double sech_q = 1 - sech * sech;
  out = eta_g * gauss + eta_l * lorentz + eta_i * irr + eta_p * sech;
  d_x = eta_g * gauss_u * 1.6651092223153954 / w_g + eta_l * lorentz_v * 2 / w_l
        + eta_i * irr_t / (w_i * 0.6523830132520534) + eta_p * sech_q / (w_p * 0.5672963285532555);
  // d out / d width_k = -(component)'(arg) arg / width_k
  const double by_wg = -eta_g * gauss_u * u / w_g;
  const double by_wl = -eta_l * lorentz_v * v / w_l;
  const double by_wi = -eta_i * irr_t * t / w_i;
  const double by_wp = -eta_p * sech_q * q / w_p;
  const double d_rho = -(deta_l + deta_i + deta_p) * gauss + deta_l * lorentz + deta_i * irr
                       + deta_p * sech + by_wg * dw_g + by_wl * dw_l + by_wi * dw_i
                       + by_wp * dw_p;
  const double d_total = (by_wg * w_g + by_wl * w_l + by_wi * w_i + by_wp * w_p) / total;
  d_g = d_total - d_rho * rho / total;
  d_l = d_total + d_rho * (1 - rho) / total;
}

template <typename TX, typename TG, typename TL>
stan::math::var_value<VectorXd> unite_pseudovoigt_cumulative(const TX& x_arg, const TG& g_arg,
                                                             const TL& l_arg) {
  using stan::arena_t;
  auto x_ar = stan::math::to_arena(x_arg);
  auto g_ar = stan::math::to_arena(g_arg);
  const VectorXd x = values(x_ar);
  const VectorXd g = values(g_ar);
  const double l = scalar_value(l_arg);
  const Eigen::Index n = x.size();
  VectorXd out(n);
  arena_t<VectorXd> d_x(n), d_g(n), d_l(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    pseudovoigt_element(x[i], g[i], l, out[i], d_x[i], d_g[i], d_l[i]);
  }
  stan::math::var_value<VectorXd> res(out);
  stan::math::reverse_pass_callback([x_ar, g_ar, l_arg, res, d_x, d_g, d_l]() mutable {
    const auto& adj = res.adj();
    add_adjoint(x_ar, adj, d_x);
    add_adjoint(g_ar, adj, d_g);
    add_adjoint(l_arg, adj, d_l);
  });
  return res;
}

// ---- unite_exp_erfc(vector t, vector a, vector lam_x) -------------------------------------
// exp(a^2 - lam_x) erfc(a - t), and its asymptotic form beyond a - t = 26
// (templates/special/exp_erfc.stan).
template <typename TT, typename TA, typename TL>
stan::math::var_value<VectorXd> unite_exp_erfc(const TT& t_arg, const TA& a_arg,
                                               const TL& lam_arg) {
  using stan::arena_t;
  auto t_ar = stan::math::to_arena(t_arg);
  auto a_ar = stan::math::to_arena(a_arg);
  auto lam_ar = stan::math::to_arena(lam_arg);
  const VectorXd t = values(t_ar);
  const VectorXd a = values(a_ar);
  const VectorXd lam = values(lam_ar);
  const Eigen::Index n = t.size();
  VectorXd out(n);
  arena_t<VectorXd> d_t(n), d_a(n), d_lam(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    const double d = a[i] - t[i];
    if (d < 26) {
      const double scale = std::exp(a[i] * a[i] - lam[i]);
      out[i] = scale * std::erfc(d);
      // d erfc(d) / d d = -2 / sqrt(pi) exp(-d^2)
      const double by_d = -scale * two_over_sqrt_pi * std::exp(-d * d);
      d_lam[i] = -out[i];
      d_a[i] = 2 * a[i] * out[i] + by_d;
      d_t[i] = -by_d;
    } else {
      const double y = 0.5 / (d * d);
      const double series = 1 - y * (1 - 3 * y * (1 - 5 * y * (1 - 7 * y)));
      const double series_y = -1 + y * (6 + y * (-45 + y * 420));
      const double gauss = std::exp(-t[i] * t[i]);
      out[i] = gauss * series * inv_sqrt_pi / d;
      // y = 1 / (2 d^2): dy / dd = -2 y / d
      const double by_d = gauss * inv_sqrt_pi * (series_y * (-2 * y / d) / d - series / (d * d));
      d_lam[i] = 0;
      d_a[i] = by_d;
      d_t[i] = -2 * t[i] * out[i] - by_d;
    }
  }
  stan::math::var_value<VectorXd> res(out);
  stan::math::reverse_pass_callback([t_ar, a_ar, lam_ar, res, d_t, d_a, d_lam]() mutable {
    const auto& adj = res.adj();
    add_adjoint(t_ar, adj, d_t);
    add_adjoint(a_ar, adj, d_a);
    add_adjoint(lam_ar, adj, d_lam);
  });
  return res;
}

// ---- Owen's T, to an absolute error below 1e-16 -------------------------------------------
// What the skew normal's cumulative needs: T(h, a), given erf(h / sqrt 2) and
// erf(a h / sqrt 2), which the caller has computed anyway. T is even in h and odd in a. For
// a <= 1, Boost's T in double precision (its default promotes to long double, 5 times
// slower); for a > 1, Owen's (1956) reduction T(h, a) = (Phi(h) Q(ah) + Phi(ah) Q(h)) / 2
// - T(ah, 1 / a) (h >= 0, Q = 1 - Phi) with the two erf values. 0 where h (or ah, in the
// reduction) exceeds 8.5, since T(h, a) < Q(h) / 2 < 5e-18 there. Against Boost's long double
// T over h in [-12, 12] and a from -300 to 300: 5.6e-17 at most.
inline double owens_t_absolute(double h, double a, double erf_h, double erf_ah) {
  using policy = boost::math::policies::policy<boost::math::policies::promote_double<false>>;
  const double sign = a < 0 ? -1.0 : 1.0;
  a = std::fabs(a);
  h = std::fabs(h);
  if (h > 8.5 || a == 0) {
    return 0.0;
  }
  if (a <= 1) {
    return sign * boost::math::owens_t(h, a, policy());
  }
  const double e_h = std::fabs(erf_h);
  const double e_ah = std::fabs(erf_ah);
  double out = 0.125 * ((1 + e_h) * (1 - e_ah) + (1 + e_ah) * (1 - e_h));
  if (a * h <= 8.5) {
    out -= boost::math::owens_t(a * h, 1 / a, policy());
  }
  return sign * out;
}

// ---- skewnormal_cumulative(vector edge, real centre, vector width, vector lsf_fwhm2) -------
// erf(z / sqrt 2) - 4 T(z, alpha_eff) (templates/profiles/skewnormal.stan), Owen's T by
// owens_t_absolute: within 3e-16 of the Stan text, which calls Boost's long double T.
template <typename TE, typename TC, typename TW, typename TL>
stan::math::var_value<VectorXd> skewnormal_cumulative(const TE& edge_arg, const TC& centre_arg,
                                                      const TW& width_arg,
                                                      const TL& lsf_arg) {
  using stan::arena_t;
  auto e_ar = stan::math::to_arena(edge_arg);
  auto w_ar = stan::math::to_arena(width_arg);
  auto l_ar = stan::math::to_arena(lsf_arg);
  const VectorXd edge = values(e_ar);
  const VectorXd width = values(w_ar);
  const VectorXd lsf2 = values(l_ar);
  const double centre = scalar_value(centre_arg);
  const double w1 = width[0];
  const double w2 = width[1];
  const Eigen::Index n = edge.size();
  VectorXd out(n);
  arena_t<VectorXd> d_e(n), d_w1(n), d_w2(n), d_l(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    const double g2 = lsf2[i] + w1 * w1;
    const double s = std::sqrt(g2);
    const double z = 2.3548200450309493 * (edge[i] - centre) / s;
    const double dd = std::sqrt(g2 + w2 * w2 * lsf2[i]);
    const double ae = w2 * w1 / dd;
    const double erf_z = std::erf(z * 0.7071067811865476);
    const double erf_az = std::erf(ae * z * 0.7071067811865476);
    out[i] = erf_z - 4 * owens_t_absolute(z, ae, erf_z, erf_az);
    // d out / dz = sqrt(2 / pi) exp(-z^2 / 2) (1 + erf(ae z / sqrt 2));
    // d out / d ae = -4 exp(-z^2 (1 + ae^2) / 2) / (2 pi (1 + ae^2))
    const double gz = std::exp(-0.5 * z * z);
    const double by_z = 0.7978845608028654 * gz * (1 + erf_az);
    const double one_a2 = 1 + ae * ae;
    const double by_a = -4 * std::exp(-0.5 * z * z * one_a2) / (6.283185307179586 * one_a2);
    const double d3 = dd * dd * dd;
    d_e[i] = by_z * 2.3548200450309493 / s;
    d_w1[i] = by_z * (-z * w1 / g2) + by_a * w2 * (1 + w2 * w2) * lsf2[i] / d3;
    d_w2[i] = by_a * w1 * g2 / d3;
    d_l[i] = by_z * (-0.5 * z / g2) - by_a * 0.5 * w2 * w1 * (1 + w2 * w2) / d3;
  }
  stan::math::var_value<VectorXd> res(out);
  stan::math::reverse_pass_callback(
      [e_ar, centre_arg, w_ar, l_ar, res, d_e, d_w1, d_w2, d_l]() mutable {
        const auto& adj = res.adj();
        add_adjoint(e_ar, adj, d_e);
        if constexpr (is_ad<TC>) {
          centre_arg.adj() -= weighted_sum(adj, d_e);  // d / d centre = -d / d edge
        }
        if constexpr (is_ad<TW>) {
          w_ar.adj().coeffRef(0) += weighted_sum(adj, d_w1);
          w_ar.adj().coeffRef(1) += weighted_sum(adj, d_w2);
        }
        add_adjoint(l_ar, adj, d_l);
      });
  return res;
}

// ---- skewvoigt_edges(vector edge, real centre, real g, real l, vector lsf_fwhm2, real k) ----
// The SkewVoigt's cumulative at the edges (templates/profiles/skewvoigt.stan): each edge's
// pseudo-Voigt content, Gaussian FWHM sqrt(lsf_fwhm2 + g^2) and Lorentzian FWHM l, at
// x = edge - centre; then -1, and -1 plus the running sum of (content[i+1] - content[i])
// erfc(-k (x[i] + x[i+1])). One node for what the Stan text does in five.
template <typename TE, typename TC, typename TG, typename TL, typename TF, typename TK>
stan::math::var_value<VectorXd> skewvoigt_edges(const TE& edge_arg, const TC& centre_arg,
                                                const TG& g_arg, const TL& l_arg,
                                                const TF& lsf_arg, const TK& k_arg) {
  using stan::arena_t;
  auto e_ar = stan::math::to_arena(edge_arg);
  auto f_ar = stan::math::to_arena(lsf_arg);
  const VectorXd edge = values(e_ar);
  const VectorXd lsf2 = values(f_ar);
  const double centre = scalar_value(centre_arg);
  const double g = scalar_value(g_arg);
  const double l = scalar_value(l_arg);
  const double k = scalar_value(k_arg);
  const Eigen::Index n = edge.size();
  const Eigen::Index pixels = n > 0 ? n - 1 : 0;
  // per edge: the content's derivatives in x, in the edge's Gaussian FWHM over that FWHM
  // (d / d g^2 times 2), and in l
  arena_t<VectorXd> d_x(n), d_g2(n), d_l(n);
  VectorXd x(n), content(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    x[i] = edge[i] - centre;
    const double width = std::sqrt(lsf2[i] + g * g);
    double d_width;
    pseudovoigt_element(x[i], width, l, content[i], d_x[i], d_width, d_l[i]);
    d_g2[i] = d_width / width;
  }
  // per pixel: its content difference, its weight erfc(-k m) and that weight's derivative in
  // k m, 2 / sqrt(pi) exp(-(k m)^2), with m = x[i] + x[i+1]
  VectorXd out(pixels + 1);
  arena_t<VectorXd> diff(pixels), weight(pixels), slope(pixels), sum(pixels);
  out[0] = -1;
  double running = 0;
  for (Eigen::Index i = 0; i < pixels; ++i) {
    diff[i] = content[i + 1] - content[i];
    sum[i] = x[i + 1] + x[i];
    weight[i] = std::erfc(-k * sum[i]);
    slope[i] = two_over_sqrt_pi * std::exp(-(k * sum[i]) * (k * sum[i]));
    running += diff[i] * weight[i];
    out[i + 1] = running - 1;
  }
  stan::math::var_value<VectorXd> res(out);
  stan::math::reverse_pass_callback([e_ar, centre_arg, g_arg, l_arg, f_ar, k_arg, res, d_x,
                                     d_g2, d_l, diff, weight, slope, sum, n,
                                     pixels]() mutable {
    const auto& adj = res.adj();
    double by_centre = 0, by_g2 = 0, by_l = 0, by_k = 0;
    // edge j's adjoints, of its content (c) and of its x (beyond the content's): to the
    // arguments
    auto finish = [&](Eigen::Index j, double c, double x_adj) {
      const double total_x = x_adj + c * d_x[j];
      if constexpr (is_ad<TE>) {
        e_ar.adj().coeffRef(j) += total_x;
      }
      by_centre -= total_x;
      by_g2 += c * d_g2[j];
      by_l += c * d_l[j];
      if constexpr (is_ad<TF>) {
        f_ar.adj().coeffRef(j) += 0.5 * c * d_g2[j];
      }
    };
    // each pixel's term enters every later output: its adjoint is their sum; edge i + 1 is
    // complete once pixels i + 1 and i are done
    double later = 0, c_next = 0, x_next = 0;
    for (Eigen::Index i = pixels - 1; i >= 0; --i) {
      later += adj[i + 1];
      const double by_content = later * weight[i];
      const double by_x = later * diff[i] * slope[i] * stan::math::value_of(k_arg);
      finish(i + 1, c_next + by_content, x_next + by_x);
      c_next = -by_content;
      x_next = by_x;
      by_k += later * diff[i] * slope[i] * sum[i];
    }
    if (n > 0) {
      finish(0, c_next, x_next);
    }
    if constexpr (is_ad<TC>) {
      centre_arg.adj() += by_centre;
    }
    if constexpr (is_ad<TG>) {
      g_arg.adj() += by_g2 * stan::math::value_of(g_arg);
    }
    if constexpr (is_ad<TL>) {
      l_arg.adj() += by_l;
    }
    if constexpr (is_ad<TK>) {
      k_arg.adj() += by_k;
    }
  });
  return res;
}

}  // namespace unite_native
