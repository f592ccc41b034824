# cython: language_level=3, boundscheck=False, wraparound=False
# distutils: language = c++
"""Cython shell over the same csrc/axf headers as the pybind11 module (one source of truth).

See kernels.pxd for the cimport-able API.  Importing this module from Python sets the
BLAS pointers (taken from scipy.linalg.cython_blas, as the pybind11 module does).
"""
from cpython.pycapsule cimport PyCapsule_GetName, PyCapsule_GetPointer
from cython cimport floating


cdef extern from "axf/capi.hpp" namespace "axf" nogil:
    void set_blas(void* sgemm, void* dgemm)
    int capi_gram[T](int kind, const T* X, Py_ssize_t n, const T* Y, Py_ssize_t m, Py_ssize_t d, T* out,
                     double gamma, double coef0, int degree, bint symmetric, int n_threads)
    int capi_kernel_matvec[T](int kind, const T* X, Py_ssize_t n, const T* Y, Py_ssize_t m, Py_ssize_t d,
                              const T* V, Py_ssize_t p, T* out, double gamma, double coef0, int degree,
                              bint symmetric, int n_threads)
    int capi_stress[T](const T* X, const T* Z, Py_ssize_t n, Py_ssize_t d, Py_ssize_t k, T* grad,
                       int n_threads, double* value)


cdef void* _capsule_pointer(object capsule):
    return PyCapsule_GetPointer(capsule, PyCapsule_GetName(capsule))


def _init_blas():
    import scipy.linalg.cython_blas as cb
    capi = cb.__pyx_capi__
    set_blas(_capsule_pointer(capi["sgemm"]), _capsule_pointer(capi["dgemm"]))


_init_blas()


cdef int gram(int kind, const floating* X, Py_ssize_t n, const floating* Y, Py_ssize_t m, Py_ssize_t d,
              floating* out, double gamma, double coef0, int degree, bint symmetric,
              int n_threads) noexcept nogil:
    return capi_gram(kind, X, n, Y, m, d, out, gamma, coef0, degree, symmetric, n_threads)


cdef int kernel_matvec(int kind, const floating* X, Py_ssize_t n, const floating* Y, Py_ssize_t m,
                       Py_ssize_t d, const floating* V, Py_ssize_t p, floating* out, double gamma,
                       double coef0, int degree, bint symmetric, int n_threads) noexcept nogil:
    return capi_kernel_matvec(kind, X, n, Y, m, d, V, p, out, gamma, coef0, degree, symmetric, n_threads)


cdef int stress_value_grad(const floating* X, const floating* Z, Py_ssize_t n, Py_ssize_t d, Py_ssize_t k,
                           floating* grad, int n_threads, double* value) noexcept nogil:
    return capi_stress(X, Z, n, d, k, grad, n_threads, value)


def _gram_py(int kind, floating[:, ::1] X, floating[:, ::1] Y, floating[:, ::1] out, double gamma=1.0,
             double coef0=1.0, int degree=3, int n_threads=1):
    """Test hook: call the cdef gram on memoryviews; returns the status code."""
    if X.shape[1] != Y.shape[1] or out.shape[0] != X.shape[0] or out.shape[1] != Y.shape[0]:
        raise ValueError("shape mismatch")
    cdef int status
    if X.shape[0] == 0 or Y.shape[0] == 0:
        return 0
    if X.shape[1] == 0:
        raise ValueError("X and Y need at least one column")
    with nogil:
        status = gram(kind, &X[0, 0], X.shape[0], &Y[0, 0], Y.shape[0], X.shape[1], &out[0, 0], gamma, coef0,
                      degree, False, n_threads)
    return status
