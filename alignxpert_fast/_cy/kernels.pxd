# cython: language_level=3
"""cimport-able kernels of alignxpert_fast for other compiled code.

    from alignxpert_fast._cy.kernels cimport gram, kernel_matvec, stress_value_grad

All functions take raw C-contiguous row-major pointers with explicit sizes, run without
the GIL, never raise, and return a status code: 0 ok, 1 invalid argument, 2 out of
memory, 3 BLAS not initialised (import alignxpert_fast._cy.kernels from Python first),
4 other error.  ``kind``: 0 linear, 1 rbf, 2 poly, 3 cosine, 4 squared euclidean,
5 euclidean.  They call BLAS gemm from their own OpenMP threads: limit BLAS to one
thread around them (threadpoolctl) to avoid oversubscription.  Inputs of rbf and the
distances are not centered here: center float32 data yourself if it sits far from 0.
"""
from cython cimport floating

cdef int gram(int kind, const floating* X, Py_ssize_t n, const floating* Y, Py_ssize_t m, Py_ssize_t d,
              floating* out, double gamma, double coef0, int degree, bint symmetric,
              int n_threads) noexcept nogil

cdef int kernel_matvec(int kind, const floating* X, Py_ssize_t n, const floating* Y, Py_ssize_t m,
                       Py_ssize_t d, const floating* V, Py_ssize_t p, floating* out, double gamma,
                       double coef0, int degree, bint symmetric, int n_threads) noexcept nogil

cdef int stress_value_grad(const floating* X, const floating* Z, Py_ssize_t n, Py_ssize_t d, Py_ssize_t k,
                           floating* grad, int n_threads, double* value) noexcept nogil
