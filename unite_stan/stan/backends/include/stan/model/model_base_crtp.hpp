// unite_stan's replacement for Stan's stan/model/model_base_crtp.hpp (embedded backend only).
//
// Stan's own adapter instantiates the generated log_prob once per combination of
// {propto, jacobian} x {double, var} x {Eigen vector, std::vector}: sixteen copies of the model's
// log density, most of a model's compile time. Everything the embedded backend runs asks for
// one variant, propto = true with the Jacobian (NUTS, and the shim's Density used by the pilot),
// so here every double overload calls that one instantiation and every var overload another
// (std::vector arguments are copied into Eigen vectors), and the var copy is compiled in a
// second translation unit in parallel. For unite_stan's generated programs the variants agree
// anyway: they have no `~` statements and no constrained parameters (priors add their own log
// densities with `target +=`). For other programs the propto = false and jacobian = false
// variants return the propto, Jacobian-adjusted density, which nothing in unite_stan requests.
#ifndef STAN_MODEL_MODEL_BASE_CRTP_HPP
#define STAN_MODEL_MODEL_BASE_CRTP_HPP

#include <stan/model/model_base.hpp>
#include <iostream>
#include <utility>
#include <vector>

#define UNITE_STAN_MODEL_BASE_CRTP 1

namespace stan {
namespace model {

// The reverse-mode log density. It is defined and instantiated in a second translation unit
// (gradient.cpp beside the embedded backend), compiled in parallel with the rest of the model.
template <typename M>
math::var unite_stan_gradient_lp(const M& model, Eigen::Matrix<math::var, -1, 1>& theta,
                                 std::ostream* msgs);

template <typename M>
class model_base_crtp : public stan::model::model_base {
 public:
  explicit model_base_crtp(size_t num_params_r) : model_base(num_params_r) {}

  virtual ~model_base_crtp() {}

 private:
  const M& self() const { return *static_cast<const M*>(this); }

  // The two instantiations of the model's log density.
  double lp(Eigen::VectorXd& theta, std::ostream* msgs) const {
    return self().template log_prob<true, true>(theta, msgs);
  }
  math::var lp(Eigen::Matrix<math::var, -1, 1>& theta, std::ostream* msgs) const {
    return unite_stan_gradient_lp(self(), theta, msgs);
  }
  template <typename T>
  T lp(std::vector<T>& theta, std::ostream* msgs) const {
    Eigen::Matrix<T, -1, 1> copy = Eigen::Map<Eigen::Matrix<T, -1, 1>>(theta.data(), theta.size());
    return lp(copy, msgs);
  }

 public:
  double log_prob(Eigen::VectorXd& theta, std::ostream* msgs) const override {
    return lp(theta, msgs);
  }
  math::var log_prob(Eigen::Matrix<math::var, -1, 1>& theta, std::ostream* msgs) const override {
    return lp(theta, msgs);
  }
  double log_prob_jacobian(Eigen::VectorXd& theta, std::ostream* msgs) const override {
    return lp(theta, msgs);
  }
  math::var log_prob_jacobian(Eigen::Matrix<math::var, -1, 1>& theta,
                              std::ostream* msgs) const override {
    return lp(theta, msgs);
  }
  double log_prob_propto(Eigen::VectorXd& theta, std::ostream* msgs) const override {
    return lp(theta, msgs);
  }
  math::var log_prob_propto(Eigen::Matrix<math::var, -1, 1>& theta,
                            std::ostream* msgs) const override {
    return lp(theta, msgs);
  }
  double log_prob_propto_jacobian(Eigen::VectorXd& theta, std::ostream* msgs) const override {
    return lp(theta, msgs);
  }
  math::var log_prob_propto_jacobian(Eigen::Matrix<math::var, -1, 1>& theta,
                                     std::ostream* msgs) const override {
    return lp(theta, msgs);
  }

  double log_prob(std::vector<double>& theta, std::vector<int>& theta_i,
                  std::ostream* msgs) const override {
    return lp(theta, msgs);
  }
  math::var log_prob(std::vector<math::var>& theta, std::vector<int>& theta_i,
                     std::ostream* msgs) const override {
    return lp(theta, msgs);
  }
  double log_prob_jacobian(std::vector<double>& theta, std::vector<int>& theta_i,
                           std::ostream* msgs) const override {
    return lp(theta, msgs);
  }
  math::var log_prob_jacobian(std::vector<math::var>& theta, std::vector<int>& theta_i,
                              std::ostream* msgs) const override {
    return lp(theta, msgs);
  }
  double log_prob_propto(std::vector<double>& theta, std::vector<int>& theta_i,
                         std::ostream* msgs) const override {
    return lp(theta, msgs);
  }
  math::var log_prob_propto(std::vector<math::var>& theta, std::vector<int>& theta_i,
                            std::ostream* msgs) const override {
    return lp(theta, msgs);
  }
  double log_prob_propto_jacobian(std::vector<double>& theta, std::vector<int>& theta_i,
                                  std::ostream* msgs) const override {
    return lp(theta, msgs);
  }
  math::var log_prob_propto_jacobian(std::vector<math::var>& theta, std::vector<int>& theta_i,
                                     std::ostream* msgs) const override {
    return lp(theta, msgs);
  }

  // write_array: one instantiation (Eigen); the std::vector overload copies.
  void write_array(stan::rng_t& rng, Eigen::VectorXd& theta, Eigen::VectorXd& vars,
                   bool include_tparams = true, bool include_gqs = true,
                   std::ostream* msgs = 0) const override {
    return self().write_array(rng, theta, vars, include_tparams, include_gqs, msgs);
  }
  void write_array(stan::rng_t& rng, std::vector<double>& theta, std::vector<int>& theta_i,
                   std::vector<double>& vars, bool include_tparams = true,
                   bool include_gqs = true, std::ostream* msgs = 0) const override {
    Eigen::VectorXd theta_copy = Eigen::Map<Eigen::VectorXd>(theta.data(), theta.size());
    Eigen::VectorXd out;
    self().write_array(rng, theta_copy, out, include_tparams, include_gqs, msgs);
    vars.assign(out.data(), out.data() + out.size());
  }

  void unconstrain_array(const Eigen::VectorXd& params_r_constrained, Eigen::VectorXd& params_r,
                         std::ostream* msgs = nullptr) const override {
    return self().unconstrain_array(params_r_constrained, params_r, msgs);
  }
  void unconstrain_array(const std::vector<double>& params_r_constrained,
                         std::vector<double>& params_r,
                         std::ostream* msgs = nullptr) const override {
    return self().unconstrain_array(params_r_constrained, params_r, msgs);
  }

  void transform_inits(const io::var_context& context, Eigen::VectorXd& params_r,
                       std::ostream* msgs) const override {
    return self().transform_inits(context, params_r, msgs);
  }
};

}  // namespace model
}  // namespace stan
#endif
