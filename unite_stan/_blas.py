"""One BLAS thread while a fit runs.

NumPy's and SciPy's BLAS (OpenBLAS in their wheels) start a pool of threads and wake it for
every call, however small. A fit's Python side makes thousands of tiny calls (the pilot's
L-BFGS-B on a handful of parameters, its Hessian and Cholesky factors) while Stan's own threads
keep the cores busy, and then each call waits for threads that have no core to run on. On this
project's 2-core machine, with a two-worker batch running beside, scipy's L-BFGS-B took 3 ms
per iteration on 7 parameters instead of 0.07 ms, and the tutorial structure's pilot (two
L-BFGS-B runs in threads) 0.4-2.5 s instead of 0.04-0.06 s; benchmarks/pilot_blas.py measures
it beside spinning processes. Fits therefore run with one BLAS thread; the user's setting is
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
