// unite_stan's shim: compiled once, linked into each model like stan_services.o.
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <stan/io/array_var_context.hpp>
#include <stan/model/log_prob_grad.hpp>
#include <stan/model/log_prob_propto.hpp>
#include <stan/model/model_base.hpp>
#include <stan/services/util/create_rng.hpp>

#include <tbb/task_arena.h>

#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

// Defined by the stanc output of each model.
stan::model::model_base& new_model(stan::io::var_context& data_context, unsigned int seed,
                                   std::ostream* msg_stream);

namespace unite_stan_shim {

// STAN_THREADS makes the autodiff tape thread-local and static initialisation creates it only
// for the thread that loaded this library; every other thread must create its own first.
void init_thread() { static thread_local stan::math::ChainableStack tape; }

// Run fn in this thread inside a TBB arena of n threads: Stan's reduce_sum then splits its work
// over at most n threads (this one and n - 1 of TBB's workers). The sampler releases the GIL.
void run_with_threads(int n, const std::function<void()>& fn) {
  init_thread();
  if (n < 1) throw std::invalid_argument("threads must be >= 1");
  tbb::task_arena arena(n, 1);
  arena.execute([&] { fn(); });
}

// One model instance for one data set, reused across evaluations.
class Density {
 public:
  Density(const std::vector<std::string>& names_r, const std::vector<double>& values_r,
          const std::vector<std::vector<size_t>>& dims_r, const std::vector<std::string>& names_i,
          const std::vector<int>& values_i, const std::vector<std::vector<size_t>>& dims_i) {
    init_thread();
    stan::io::array_var_context context(names_r, values_r, dims_r, names_i, values_i, dims_i);
    model_.reset(&new_model(context, 0, nullptr));
  }

  std::size_t dim() const { return model_->num_params_r(); }

  std::vector<std::string> unconstrained_names() const {
    std::vector<std::string> names;
    model_->unconstrained_param_names(names, false, false);
    return names;
  }

  std::vector<std::string> constrained_names() const {
    std::vector<std::string> names;
    model_->constrained_param_names(names, true, true);
    return names;
  }

  // Same density as the sampler's lp__: constants of ~ statements dropped, Jacobian included.
  // Stan rejects a point by throwing std::domain_error; that is -inf here, as in the sampler.
  std::pair<double, std::vector<double>> value_and_gradient(std::vector<double> x) const {
    init_thread();
    std::vector<int> unused_int_params;
    std::vector<double> gradient;
    try {
      double lp = stan::model::log_prob_grad<true, true>(*model_, x, unused_int_params, gradient,
                                                         nullptr);
      return {lp, gradient};
    } catch (const std::domain_error&) {
      return {-std::numeric_limits<double>::infinity(),
              std::vector<double>(x.size(), std::numeric_limits<double>::quiet_NaN())};
    }
  }

  double value(std::vector<double> x) const {
    init_thread();
    std::vector<int> unused_int_params;
    try {
      return stan::model::log_prob_propto<true>(*model_, x, unused_int_params, nullptr);
    } catch (const std::domain_error&) {
      return -std::numeric_limits<double>::infinity();
    }
  }

  std::vector<double> write_array(std::vector<double> x, unsigned int seed) const {
    stan::rng_t rng = stan::services::util::create_rng(seed, 0);
    std::vector<int> unused_int_params;
    std::vector<double> constrained;
    model_->write_array(rng, x, unused_int_params, constrained, true, true, nullptr);
    return constrained;
  }

 private:
  std::unique_ptr<stan::model::model_base> model_;
};

}  // namespace unite_stan_shim

PYBIND11_MODULE(unite_stan_shim, m) {
  namespace py = pybind11;
  using unite_stan_shim::Density;
  m.def("init_thread", &unite_stan_shim::init_thread,
        "Create this thread's autodiff tape for this library (idempotent).");
  m.def("run_with_threads", &unite_stan_shim::run_with_threads, py::arg("n"), py::arg("fn"),
        "Call fn() in this thread within a TBB arena of n threads.");
  // module_local: every model library defines this same C++ type.
  py::class_<Density>(m, "Density", py::module_local())
      .def(py::init<const std::vector<std::string>&, const std::vector<double>&,
                    const std::vector<std::vector<size_t>>&, const std::vector<std::string>&,
                    const std::vector<int>&, const std::vector<std::vector<size_t>>&>())
      .def_property_readonly("dim", &Density::dim)
      .def("unconstrained_names", &Density::unconstrained_names)
      .def("constrained_names", &Density::constrained_names)
      .def("value_and_gradient", &Density::value_and_gradient,
           py::call_guard<py::gil_scoped_release>())
      .def("value", &Density::value, py::call_guard<py::gil_scoped_release>())
      .def("write_array", &Density::write_array, py::arg("x"), py::arg("seed") = 0);
}
