"""Struct-of-arrays autodiff types inside the threaded program's functions.

stanc gives the vectors of a program's ``model`` code Stan's struct-of-arrays type
(``var_value<VectorXd>``: one node per vector operation) where it can, but every local vector
of a user-defined function the array-of-structs type (``Matrix<var>``: one node per element and
operation; stan-dev/stanc3#1237). The serial program never notices, stanc inlines its one call
of the likelihood; the threaded program cannot, since ``reduce_sum_static`` calls it as a
function, and there it cost 2.3-3.2 times the serial program per thread.

:func:`struct_of_arrays` rewrites what stanc generated for the ``functions`` block so that each
local column vector, and each function's returned column vector, has the struct-of-arrays type
in reverse mode (the type stanc itself gives such a vector in ``model`` code):
``stan::conditional_var_value_t<local_scalar_t__, Eigen::VectorXd>``, which is the plain
``Eigen::VectorXd`` when the function runs on doubles. Functions also take their element type
from ``stan::scalar_type_t`` instead of ``stan::base_type_t``, which leaves every argument
type stanc passes unchanged and gives a struct-of-arrays argument its scalar ``var``. Row
vectors and matrices are left as they are. Both backends apply it to the threaded program
only; the Stan program users read is unchanged.
"""

from __future__ import annotations

import hashlib
import re

from unite_stan._resources import template_dir

__all__ = ["LEAVE", "NATIVE", "REWRITE", "native_kernels", "options", "struct_of_arrays"]

#: the C++ of the native kernels (see :func:`native_kernels`)
_KERNELS = (template_dir() / "native" / "kernels.hpp").read_text()
#: the functions of the Stan text that have a native kernel of the same name and arguments
NATIVE = (
    "unite_pseudovoigt_cumulative",
    "unite_exp_erfc",
    "skewnormal_cumulative",
    "skewvoigt_edges",
)

#: version of the rewrite, part of the cache key of every program it applies to (it changes
#: with the kernels' source)
REWRITE = "functions-soa-5-" + hashlib.sha256(_KERNELS.encode()).hexdigest()[:12]

_SOA = "stan::conditional_var_value_t<{}, Eigen::Matrix<double,-1,1>>"
_NAN = "std::numeric_limits<double>::quiet_NaN()"
_MODEL_CLASS = re.compile(r"^class \w+ final : public model_base_crtp<", re.M)
# a function's declared return type: a column vector of the promoted argument types
_RETURN = re.compile(r"Eigen::Matrix<(stan::promote_args_t<[^;{}]*?>),-1,1>(\s*\n\s*\w+\()")
# a local vector declared with its size and filled with NaN
# (stanc may break the line before DUMMY_VAR__)
_FILLED = re.compile(r"Eigen::Matrix<local_scalar_t__,-1,1>::Constant\(([^;{}]*?),\s*DUMMY_VAR__\)")
_LOCAL = "Eigen::Matrix<local_scalar_t__,-1,1>"
# a vector literal ([a, b]'), which stanc builds with Eigen's comma initialiser: left as it is
_LITERAL = re.compile(r"Eigen::Matrix<local_scalar_t__,-1,1>(\(\d+\) <<)")
_LITERAL_KEPT = "Eigen::Matrix<local_scalar_t__,-1,1,0,-1,1>"
_REDUCE_SUM = re.compile(r"\breduce_sum(_static)?\s*\(")
_NAMESPACE = re.compile(r"^namespace \w+_namespace \{", re.M)
# stanc never assigns an array-of-structs vector to a struct-of-arrays one; a rewritten local
# may be assigned one (e.g. from elements of an array-of-structs argument). Nor the converse:
# code stanc inlines into the model class (the threaded program's direct call of the
# likelihood) may assign a rewritten function's result to an array-of-structs local.
_ASSIGN_AOS = """\
// unite_stan (soa.py): a struct-of-arrays vector assigned an array-of-structs one, and the
// converse
namespace stan {
namespace model {
template <typename Aos, require_eigen_vt<is_var, Aos>* = nullptr>
inline void assign(stan::math::var_value<Eigen::Matrix<double, -1, 1>>& x, Aos&& y,
                   const char* name) {
  assign(x, stan::math::to_var_value(y), name);
}
template <typename Soa, require_var_matrix_t<Soa>* = nullptr>
inline void assign(Eigen::Matrix<stan::math::var, -1, 1>& x, Soa&& y, const char* name) {
  assign(x, stan::math::from_var_value(y), name);
}
}  // namespace model
}  // namespace stan
"""


# Eigen's vectorised sums begin at the first aligned element, so over struct-of-arrays vectors
# (which live in Stan's per-thread arenas) their rounding would depend on which thread ran a
# block and what that thread's arena held before, and a threaded chain's draws on its
# history. Scalar loops keep them reproducible; fixed-size Eigen types keep the alignment they
# have in the rest of the build (Stan's services, the sampler), which is Eigen's default.
_SCALAR_EIGEN = """\
// unite_stan (soa.py): Eigen without explicit vectorisation, for reproducible sums
#define EIGEN_DONT_VECTORIZE
#if defined(__AVX512F__)
#define EIGEN_MAX_STATIC_ALIGN_BYTES 64
#elif defined(__AVX__)
#define EIGEN_MAX_STATIC_ALIGN_BYTES 32
#else
#define EIGEN_MAX_STATIC_ALIGN_BYTES 16
#endif
#define EIGEN_MAX_ALIGN_BYTES EIGEN_MAX_STATIC_ALIGN_BYTES
"""


#: what the template writes into a program whose likelihood fills matrices from vectors (the
#: absorbers' attenuation groups): Stan assigns no struct-of-arrays vector to a matrix block,
#: so such a program is compiled as stanc writes it
LEAVE = "soa.py leaves this program as stanc writes it"


def options(code: str) -> dict:
    """The build option asking for the rewrite, part of the program's cache key.

    ``{"rewrite": REWRITE}`` for a Stan program ``code`` that calls a function through
    ``reduce_sum`` and does not carry the :data:`LEAVE` mark, else ``{}``, so that the
    other programs' builds keep their keys.
    """
    return {"rewrite": REWRITE} if _REDUCE_SUM.search(code) and LEAVE not in code else {}


def struct_of_arrays(cpp: str) -> str:
    """stanc's C++ ``cpp`` with struct-of-arrays vectors in its user-defined functions.

    The result defines Eigen's configuration before anything includes Eigen, so it is
    compiled without the precompiled Stan header.

    Returns ``cpp`` unchanged when it does not have the expected shape (no model class, or
    complex numbers, whose ``scalar_type_t`` is not their ``base_type_t``).
    """
    model_class = _MODEL_CLASS.search(cpp)
    namespace = _NAMESPACE.search(cpp)
    if model_class is None or namespace is None or namespace.start() > model_class.start():
        return cpp
    functions, rest = cpp[: model_class.start()], cpp[model_class.start() :]
    if "std::complex" in functions:
        return cpp
    functions = functions.replace("stan::base_type_t<", "stan::scalar_type_t<")
    functions = _RETURN.sub(lambda m: _SOA.format(m.group(1)) + m.group(2), functions)
    functions = _FILLED.sub(
        lambda m: (
            _SOA.format("local_scalar_t__")
            + f"(Eigen::Matrix<double,-1,1>::Constant({m.group(1)}, {_NAN}))"
        ),
        functions,
    )
    functions = _LITERAL.sub(lambda m: _LITERAL_KEPT + m.group(1), functions)
    functions = functions.replace(_LOCAL, _SOA.format("local_scalar_t__"))
    functions, kernels = native_kernels(functions)
    cut = namespace.start()
    return _SCALAR_EIGEN + functions[:cut] + _ASSIGN_AOS + kernels + functions[cut:] + rest


# a function's definition (not its declaration, which ends with ';'): name and parameters
_DEFINITION = re.compile(r"^(?P<name>\w+)\((?P<params>[^;{}]*)\)\s*\{", re.M)
_PARAM = re.compile(r"^const (?P<type>T\d+__)& (?P<name>\w+)$")


def native_kernels(functions: str) -> tuple[str, str]:
    """Route the reverse-mode calls of the :data:`NATIVE` functions to their kernels.

    Each such function defined in stanc's C++ ``functions`` gets, first in its body, a
    branch taken when any argument is an autodiff type: it returns the kernel of the same
    name in ``templates/native/kernels.hpp`` (one autodiff node with its partial derivatives
    written out) instead of running the Stan text's tens of vector operations. On doubles the
    Stan text runs as written. Returns the functions and the kernels' C++ to insert before
    them ("" when no kernel is used).
    """
    used = False

    def route(match: re.Match) -> str:
        nonlocal used
        if match.group("name") not in NATIVE:
            return match.group(0)
        params = [" ".join(p.split()) for p in match.group("params").split(",")]
        parsed = [_PARAM.match(p) for p in params if p != "std::ostream* pstream__"]
        if not all(parsed):  # not the signature the kernel was written for
            return match.group(0)
        used = True
        types = ", ".join(p.group("type") for p in parsed)
        names = ", ".join(p.group("name") for p in parsed)
        return (
            match.group(0)
            + f"\n  if constexpr (unite_native::any_autodiff<{types}>::value) {{"
            + f"\n    return unite_native::{match.group('name')}({names});\n  }}"
        )

    functions = _DEFINITION.sub(route, functions)
    return functions, (_KERNELS if used else "")
