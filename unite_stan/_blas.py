"""One BLAS thread while a fit runs.

NumPy's and SciPy's BLAS (OpenBLAS in their wheels) start a pool of threads and wake it for
every call, however small. A fit's Python side makes thousands of tiny calls (the pilot's
L-BFGS-B on a handful of parameters, its Hessian and Cholesky factors) while Stan's own threads
keep the cores busy, and then each call waits for threads that have no core to run on: on this
project's 2-core machine, with both cores sampling, scipy's L-BFGS-B took 3 ms per iteration on
7 parameters instead of 0.05 ms, and the tutorial's pilot 0.4-2.5 s instead of 0.02-0.05 s
(benchmarks/pilot_blas.py). Fits therefore run with one BLAS thread; the user's setting is
restored afterwards.
"""

from __future__ import annotations

import contextlib

__all__ = ["one_blas_thread"]


@contextlib.contextmanager
def one_blas_thread():
    """Limit the BLAS libraries loaded in this process to one thread inside the block."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
