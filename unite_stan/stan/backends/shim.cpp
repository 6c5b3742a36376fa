// unite_stan's shim: compiled once, linked into each model like stan_services.o.
#include <atomic>
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
#include <stan/services/sample/hmc_nuts_dense_e_adapt.hpp>
#include <stan/services/sample/hmc_nuts_diag_e_adapt.hpp>
#include <stan/services/sample/hmc_nuts_unit_e_adapt.hpp>
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

// Progress and cancellation of one running chain, shared with Python: Stan calls the interrupt
// once per iteration; Python reads `iterations` for its progress bar and sets `stop` to cancel.
class Monitor {
 public:
  long iterations() const { return iterations_.load(); }
  void request_stop() { stop_.store(true); }
  std::atomic<long> iterations_{0};
  std::atomic<bool> stop_{false};
};

// Not a std::exception: Stan's services catch those, log them and return an error code.
struct Interrupted {};

class MonitorInterrupt : public stan::callbacks::interrupt {
 public:
  explicit MonitorInterrupt(Monitor& monitor) : monitor_(monitor) {}
  void operator()() override {
    if (monitor_.stop_.load()) throw Interrupted();
    monitor_.iterations_.fetch_add(1);
  }

 private:
  Monitor& monitor_;
};

// Keeps the draws (and the adaptation messages: step size, inverse metric) in memory.
class MemoryWriter : public stan::callbacks::writer {
 public:
  void operator()(const std::vector<std::string>& names) override { names_ = names; }
  void operator()(const std::vector<double>& state) override {
    values_.insert(values_.end(), state.begin(), state.end());
  }
  void operator()(const std::string& message) override { messages_.push_back(message); }
  std::vector<std::string> names_;
  std::vector<double> values_;
  std::vector<std::string> messages_;
};

// Keeps Stan's log messages (rejections, warnings, elapsed times); drops the progress lines,
// which the Monitor replaces.
class MemoryLogger : public stan::callbacks::logger {
 public:
  void debug(const std::string& m) override { keep(m); }
  void debug(const std::stringstream& m) override { keep(m.str()); }
  void info(const std::string& m) override { keep(m); }
  void info(const std::stringstream& m) override { keep(m.str()); }
  void warn(const std::string& m) override { keep(m); }
  void warn(const std::stringstream& m) override { keep(m.str()); }
  void error(const std::string& m) override { keep(m); }
  void error(const std::stringstream& m) override { keep(m.str()); }
  void fatal(const std::string& m) override { keep(m); }
  void fatal(const std::stringstream& m) override { keep(m.str()); }
  std::vector<std::string> messages_;

 private:
  void keep(const std::string& m) {
    if (m.rfind("Iteration:", 0) != 0) messages_.push_back(m);
  }
};

// What one chain returns: column names, draws (num_samples x columns, row-major, flat), Stan's
// adaptation messages, its log, its return code and whether it was interrupted. (Plain
// vectors: creating a numpy array here, in a chain's thread, can deadlock pybind11's one-time
// numpy initialisation against another chain.)
struct ChainOutput {
  std::vector<std::string> names;
  std::vector<double> draws;
  std::vector<std::string> adaptation;
  std::vector<std::string> log;
  int return_code = 0;
  bool interrupted = false;
};

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

  // One NUTS chain with Stan's windowed adaptation, on this object's model (the model is
  // const during sampling, so chains may share it). Draws stay in memory: no files, sockets
  // or JSON. Called with the GIL released. init: the unconstrained-scale start as the values
  // of the parameter block's variables, in `init_names` order, with their dimensions.
  ChainOutput nuts(const std::string& metric, const std::vector<std::string>& init_names,
                   const std::vector<double>& init_values,
                   const std::vector<std::vector<size_t>>& init_dims, unsigned int seed,
                   unsigned int chain, int num_warmup, int num_samples, double init_radius,
                   double stepsize, int max_depth, double delta, double gamma, double kappa,
                   double t0, unsigned int init_buffer, unsigned int term_buffer,
                   unsigned int window, Monitor& monitor) const {
    init_thread();
    stan::io::array_var_context init(init_names, init_values, init_dims);
    MonitorInterrupt interrupt(monitor);
    MemoryLogger logger;
    stan::callbacks::writer init_writer, diagnostic_writer;
    MemoryWriter sample_writer;
    ChainOutput out;
    const int refresh = num_warmup + num_samples + 1;  // progress comes from the Monitor
    try {
      pybind11::gil_scoped_release release;
      if (metric == "diag_e") {
        out.return_code = stan::services::sample::hmc_nuts_diag_e_adapt(
            *model_, init, seed, chain, init_radius, num_warmup, num_samples, 1, false, refresh,
            stepsize, 0.0, max_depth, delta, gamma, kappa, t0, init_buffer, term_buffer, window,
            interrupt, logger, init_writer, sample_writer, diagnostic_writer);
      } else if (metric == "dense_e") {
        out.return_code = stan::services::sample::hmc_nuts_dense_e_adapt(
            *model_, init, seed, chain, init_radius, num_warmup, num_samples, 1, false, refresh,
            stepsize, 0.0, max_depth, delta, gamma, kappa, t0, init_buffer, term_buffer, window,
            interrupt, logger, init_writer, sample_writer, diagnostic_writer);
      } else if (metric == "unit_e") {
        out.return_code = stan::services::sample::hmc_nuts_unit_e_adapt(
            *model_, init, seed, chain, init_radius, num_warmup, num_samples, 1, false, refresh,
            stepsize, 0.0, max_depth, delta, gamma, kappa, t0, interrupt, logger, init_writer,
            sample_writer, diagnostic_writer);
      } else {
        throw std::invalid_argument("metric must be 'diag_e', 'dense_e' or 'unit_e', not '" +
                                    metric + "'");
      }
    } catch (const Interrupted&) {
      out.interrupted = true;
    }
    out.names = sample_writer.names_;
    out.draws = std::move(sample_writer.values_);
    out.adaptation = sample_writer.messages_;
    out.log = logger.messages_;
    return out;
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
  // module_local: every model library defines these same C++ types.
  py::class_<unite_stan_shim::Monitor>(m, "Monitor", py::module_local())
      .def(py::init<>())
      .def_property_readonly("iterations", &unite_stan_shim::Monitor::iterations)
      .def("request_stop", &unite_stan_shim::Monitor::request_stop);
  py::class_<unite_stan_shim::ChainOutput>(m, "ChainOutput", py::module_local())
      .def_readonly("names", &unite_stan_shim::ChainOutput::names)
      .def_readonly("draws", &unite_stan_shim::ChainOutput::draws)
      .def_readonly("adaptation", &unite_stan_shim::ChainOutput::adaptation)
      .def_readonly("log", &unite_stan_shim::ChainOutput::log)
      .def_readonly("return_code", &unite_stan_shim::ChainOutput::return_code)
      .def_readonly("interrupted", &unite_stan_shim::ChainOutput::interrupted);
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
      .def("write_array", &Density::write_array, py::arg("x"), py::arg("seed") = 0)
      .def("nuts", &Density::nuts, py::arg("metric"), py::arg("init_names"),
           py::arg("init_values"), py::arg("init_dims"), py::arg("seed"), py::arg("chain"),
           py::arg("num_warmup"), py::arg("num_samples"), py::arg("init_radius"),
           py::arg("stepsize"), py::arg("max_depth"), py::arg("delta"), py::arg("gamma"),
           py::arg("kappa"), py::arg("t0"), py::arg("init_buffer"), py::arg("term_buffer"),
           py::arg("window"), py::arg("monitor"));
}
