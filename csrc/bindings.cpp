// The only file that includes pybind11: argument checks, GIL release, *_f32 / *_f64 exports.
//
// Every function re-checks what it is given (dtype, 2-D, C-contiguity, alignment,
// shapes, writability, aliasing, finiteness of every input array -- X, Y, V, Z -- and of
// gamma / coef0, which must also fit the working dtype) while holding the GIL and throws
// std::invalid_argument (-> ValueError) or pybind11::type_error (-> TypeError), so calling
// the module directly with bad arguments raises instead of crashing.  Not checked: the
// values of the packed distance cache D (written by stress_pack; a NaN there gives a NaN
// stress, never a crash).  n_threads >= 1 is capped by the hardware, OMP_THREAD_LIMIT and
// 1024 (axf::cap_threads), and is 1 in a forked child.  The kernel itself runs with the
// GIL released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "axf/blocking.hpp"
#include "axf/contrastive.hpp"
#include "axf/products.hpp"
#include "axf/gram.hpp"
#include "axf/kinds.hpp"
#include "axf/reductions.hpp"
#include "axf/stress.hpp"

namespace py = pybind11;
using axf::index_t;

#ifndef AXF_VERSION
#define AXF_VERSION "dev"
#endif

namespace {

template <typename T>
const char* dtype_name() { return sizeof(T) == 4 ? "float32" : "float64"; }

struct View {
    py::array arr;
    void* ptr = nullptr;
    index_t rows = 0, cols = 0;
    size_t nbytes = 0;
};

// NaN / inf anywhere in a (C-contiguous) input: a kernel would return finite garbage.
template <typename T>
void check_finite_values(const View& v, const char* name) {
    const T* p = static_cast<const T*>(v.ptr);
    const size_t count = size_t(v.rows) * size_t(v.cols);
    for (size_t i = 0; i < count; ++i)
        if (!std::isfinite(p[i]))
            throw std::invalid_argument(std::string(name) + " contains NaN or inf (first at flat index " +
                                        std::to_string(i) + ")");
}

template <typename T>
View check_array(const py::handle& obj, const char* name, bool writable, bool finite = true) {
    if (!py::isinstance<py::array>(obj))
        throw py::type_error(std::string(name) + " must be a numpy.ndarray, got " +
                             std::string(py::str(py::type::of(obj).attr("__name__"))));
    py::array a = py::reinterpret_borrow<py::array>(obj);
    if (!a.dtype().equal(py::dtype::of<T>()))  // equivalent, not the same object: unpickled arrays carry their own
        throw py::type_error(std::string(name) + " must have dtype " + dtype_name<T>() + ", got " +
                             std::string(py::str(a.dtype())));
    if (a.ndim() != 2)
        throw std::invalid_argument(std::string(name) + " must be 2-D, got ndim=" + std::to_string(a.ndim()));
    const int flags = py::detail::array_proxy(a.ptr())->flags;
    if (!(flags & py::array::c_style))
        throw std::invalid_argument(std::string(name) + " must be C-contiguous");
    if (!(flags & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
        throw std::invalid_argument(std::string(name) + " must be aligned");
    if (writable && !(flags & py::detail::npy_api::NPY_ARRAY_WRITEABLE_))
        throw std::invalid_argument(std::string(name) + " must be writeable");
    View v;
    v.arr = a;
    v.ptr = const_cast<void*>(a.data());
    v.rows = a.shape(0);
    v.cols = a.shape(1);
    v.nbytes = size_t(v.rows) * size_t(v.cols) * sizeof(T);
    if (!writable && finite) check_finite_values<T>(v, name);
    return v;
}

void check_no_overlap(const View& out, const View& in, const char* out_name, const char* in_name) {
    if (out.nbytes == 0 || in.nbytes == 0) return;
    auto a0 = reinterpret_cast<std::uintptr_t>(out.ptr), a1 = a0 + out.nbytes;
    auto b0 = reinterpret_cast<std::uintptr_t>(in.ptr), b1 = b0 + in.nbytes;
    if (a0 < b1 && b0 < a1)
        throw std::invalid_argument(std::string(out_name) + " must not share memory with " + in_name);
}

void check_same_cols(const View& X, const View& Y) {
    if (X.cols != Y.cols)
        throw std::invalid_argument("X and Y must have the same number of columns, got " + std::to_string(X.cols) +
                                    " and " + std::to_string(Y.cols));
}

// Checks the counts and caps n_threads in place (axf::cap_threads).
void check_threads_blocks(int& n_threads, index_t br, index_t bc) {
    if (n_threads < 1) throw std::invalid_argument("n_threads must be >= 1, got " + std::to_string(n_threads));
    n_threads = axf::cap_threads(n_threads);
    if (br < 1) throw std::invalid_argument("block_rows must be >= 1, got " + std::to_string(br));
    if (bc < 1) throw std::invalid_argument("block_cols must be >= 1, got " + std::to_string(bc));
}

void check_blas() {
    if (!axf::blas_ready()) throw std::runtime_error("alignxpert_fast._native: BLAS pointers were not initialised");
}

void check_int_dims(index_t a, index_t b, const char* what) {
    const index_t lim = index_t(2147483647);
    if (a > lim || b > lim) throw std::invalid_argument(std::string(what) + " has a dimension above 2^31-1 (BLAS LP64 limit)");
}

axf::KernelParams make_params(axf::Kind kind, double gamma, double coef0, int degree) {
    if (!std::isfinite(gamma)) throw std::invalid_argument("gamma must be finite, got " + std::to_string(gamma));
    if (!std::isfinite(coef0)) throw std::invalid_argument("coef0 must be finite, got " + std::to_string(coef0));
    if (kind == axf::Kind::rbf && !(gamma > 0))
        throw std::invalid_argument("gamma must be > 0 for the rbf kernel, got " + std::to_string(gamma));
    if (kind == axf::Kind::poly && degree < 1)
        throw std::invalid_argument("degree must be >= 1, got " + std::to_string(degree));
    if (kind == axf::Kind::poly && degree > axf::max_degree)
        throw std::invalid_argument("degree must be <= " + std::to_string(axf::max_degree) + ", got " +
                                    std::to_string(degree));
    axf::KernelParams p;
    p.gamma = gamma;
    p.coef0 = coef0;
    p.degree = degree;
    return p;
}

// gamma and coef0 are applied in the working dtype: they must fit it (the public
// functions compute such cases in float64 instead).
template <typename T>
void check_params_fit(const axf::KernelParams& p) {
    const double mx = double(std::numeric_limits<T>::max());
    if (std::fabs(p.gamma) > mx || std::fabs(p.coef0) > mx)
        throw std::invalid_argument(std::string("gamma and coef0 must fit ") + dtype_name<T>() + ", got gamma=" +
                                    std::to_string(p.gamma) + ", coef0=" + std::to_string(p.coef0));
}

template <typename T>
void py_gram(int kind_code, py::handle X_, py::handle Y_, py::handle out_, double gamma, double coef0,
             int degree, bool symmetric, int n_threads, index_t br, index_t bc) {
    check_blas();
    axf::Kind kind = axf::kind_from_int(kind_code);
    axf::KernelParams p = make_params(kind, gamma, coef0, degree);
    check_params_fit<T>(p);
    check_threads_blocks(n_threads, br, bc);
    View X = check_array<T>(X_, "X", false), Y = check_array<T>(Y_, "Y", false);
    View out = check_array<T>(out_, "out", true);
    check_same_cols(X, Y);
    if (out.rows != X.rows || out.cols != Y.rows)
        throw std::invalid_argument("out must have shape (" + std::to_string(X.rows) + ", " + std::to_string(Y.rows) +
                                    "), got (" + std::to_string(out.rows) + ", " + std::to_string(out.cols) + ")");
    if (symmetric && (X.rows != Y.rows || X.ptr != Y.ptr))
        throw std::invalid_argument("symmetric=True requires Y to be X");
    check_no_overlap(out, X, "out", "X");
    check_no_overlap(out, Y, "out", "Y");
    check_int_dims(X.rows, Y.rows, "X/Y");
    check_int_dims(X.cols, 0, "X");
    py::gil_scoped_release nogil;
    axf::gram<T>(kind, p, static_cast<const T*>(X.ptr), X.rows, static_cast<const T*>(Y.ptr), Y.rows, X.cols,
                 static_cast<T*>(out.ptr), symmetric, n_threads, br, bc);
}

template <typename T>
void py_kernel_matvec(int kind_code, py::handle X_, py::handle Y_, py::handle V_, py::handle out_, double gamma,
                      double coef0, int degree, bool symmetric, int n_threads, index_t br, index_t bc) {
    check_blas();
    axf::Kind kind = axf::kind_from_int(kind_code);
    axf::KernelParams p = make_params(kind, gamma, coef0, degree);
    check_params_fit<T>(p);
    check_threads_blocks(n_threads, br, bc);
    View X = check_array<T>(X_, "X", false), Y = check_array<T>(Y_, "Y", false);
    View out = check_array<T>(out_, "out", true);
    check_same_cols(X, Y);
    const T* vptr = nullptr;
    index_t pc = 1;
    if (!V_.is_none()) {
        View V = check_array<T>(V_, "V", false);
        if (V.rows != Y.rows)
            throw std::invalid_argument("V must have " + std::to_string(Y.rows) + " rows (one per row of Y), got " +
                                        std::to_string(V.rows));
        check_no_overlap(out, V, "out", "V");
        vptr = static_cast<const T*>(V.ptr);
        pc = V.cols;
    }
    if (out.rows != X.rows || out.cols != pc)
        throw std::invalid_argument("out must have shape (" + std::to_string(X.rows) + ", " + std::to_string(pc) +
                                    "), got (" + std::to_string(out.rows) + ", " + std::to_string(out.cols) + ")");
    if (symmetric && (X.rows != Y.rows || X.ptr != Y.ptr))
        throw std::invalid_argument("symmetric=True requires Y to be X");
    check_no_overlap(out, X, "out", "X");
    check_no_overlap(out, Y, "out", "Y");
    check_int_dims(X.rows, Y.rows, "X/Y");
    py::gil_scoped_release nogil;
    axf::kernel_matvec<T>(kind, p, static_cast<const T*>(X.ptr), X.rows, static_cast<const T*>(Y.ptr), Y.rows,
                          X.cols, vptr, pc, static_cast<T*>(out.ptr), symmetric, n_threads, br, bc);
}

// The optional gradient output of the stress: Z's shape, writable, sharing no memory.
template <typename T>
T* check_grad(py::handle grad_, const View& Z, const View& in, const char* in_name) {
    if (grad_.is_none()) return nullptr;
    View G = check_array<T>(grad_, "grad", true);
    if (G.rows != Z.rows || G.cols != Z.cols)
        throw std::invalid_argument("grad must have Z's shape (" + std::to_string(Z.rows) + ", " +
                                    std::to_string(Z.cols) + ")");
    check_no_overlap(G, in, "grad", in_name);
    check_no_overlap(G, Z, "grad", "Z");
    return static_cast<T*>(G.ptr);
}

template <typename T>
double py_stress(py::handle X_, py::handle Z_, py::handle grad_, int n_threads, index_t br, index_t bc,
                 bool relative) {
    check_blas();
    check_threads_blocks(n_threads, br, bc);
    View X = check_array<T>(X_, "X", false), Z = check_array<T>(Z_, "Z", false);
    if (X.rows != Z.rows)
        throw std::invalid_argument("X and Z must have the same number of rows, got " + std::to_string(X.rows) +
                                    " and " + std::to_string(Z.rows));
    T* gptr = check_grad<T>(grad_, Z, X, "X");
    check_int_dims(X.rows, X.cols, "X");
    check_int_dims(Z.rows, Z.cols, "Z");
    py::gil_scoped_release nogil;
    return axf::stress_value_grad<T>(static_cast<const T*>(X.ptr), static_cast<const T*>(Z.ptr), X.rows, X.cols,
                                     Z.cols, gptr, n_threads, br, bc, relative);
}

// The packed distance cache travels as a (1, total) array (see csrc/axf/stress.hpp).
template <typename T>
View check_packed(py::handle D_, const char* name, index_t n, index_t br, bool writable) {
    View D = check_array<T>(D_, name, writable, false);
    const size_t total = axf::packed_total(n, axf::clamp_block(br, n));
    if (D.rows != 1 || size_t(D.cols) != total)
        throw std::invalid_argument(std::string(name) + " must have shape (1, " + std::to_string(total) +
                                    ") for n=" + std::to_string(n) + " and block_rows=" + std::to_string(br) +
                                    ", got (" + std::to_string(D.rows) + ", " + std::to_string(D.cols) + ")");
    return D;
}

template <typename T>
void py_stress_pack(py::handle X_, py::handle out_, int n_threads, index_t br) {
    check_blas();
    check_threads_blocks(n_threads, br, 1);
    View X = check_array<T>(X_, "X", false);
    View out = check_packed<T>(out_, "out", X.rows, br, true);
    check_no_overlap(out, X, "out", "X");
    check_int_dims(X.rows, X.cols, "X");
    py::gil_scoped_release nogil;
    axf::stress_pack<T>(static_cast<const T*>(X.ptr), X.rows, X.cols, static_cast<T*>(out.ptr), n_threads, br);
}

template <typename T>
double py_stress_cached(py::handle D_, py::handle Z_, py::handle grad_, int n_threads, index_t br, index_t bc,
                        bool relative) {
    check_blas();
    check_threads_blocks(n_threads, br, bc);
    View Z = check_array<T>(Z_, "Z", false);
    View D = check_packed<T>(D_, "D", Z.rows, br, false);
    T* gptr = check_grad<T>(grad_, Z, D, "D");
    check_int_dims(Z.rows, Z.cols, "Z");
    py::gil_scoped_release nogil;
    return axf::stress_sym<T>(nullptr, 0, static_cast<const T*>(D.ptr), static_cast<const T*>(Z.ptr), Z.rows, Z.cols,
                              gptr, n_threads, br, bc, relative);
}

// Contrastive similarity: A, B (n, k) of one dtype; dA, dB both None (value only) or
// both writable (n, k) outputs sharing no memory with A, B or each other.
template <typename T>
double py_contrastive(int kind_code, py::handle A_, py::handle B_, py::handle dA_, py::handle dB_, double gamma,
                      double coef0, int degree, double temperature, int n_threads, index_t br, index_t bc) {
    check_blas();
    axf::Kind kind = axf::kind_from_int(kind_code);
    axf::check_contrastive_kind(kind);
    axf::KernelParams p = make_params(kind, gamma, coef0, degree);
    if (!(temperature > 0.0) || !std::isfinite(temperature))
        throw std::invalid_argument("temperature must be a finite float > 0, got " + std::to_string(temperature));
    check_threads_blocks(n_threads, br, bc);
    View A = check_array<T>(A_, "A", false), B = check_array<T>(B_, "B", false);
    if (A.rows != B.rows || A.cols != B.cols)
        throw std::invalid_argument("A and B must have the same shape (row i of A is paired with row i of B), got (" +
                                    std::to_string(A.rows) + ", " + std::to_string(A.cols) + ") and (" +
                                    std::to_string(B.rows) + ", " + std::to_string(B.cols) + ")");
    if (A.rows < 1) throw std::invalid_argument("A and B need at least one row, got 0");
    if (dA_.is_none() != dB_.is_none())
        throw std::invalid_argument("dA and dB must both be arrays (value and gradient) or both None (value only)");
    T* pa = nullptr;
    T* pb = nullptr;
    if (!dA_.is_none()) {
        View dA = check_array<T>(dA_, "dA", true), dB = check_array<T>(dB_, "dB", true);
        for (const View* v : {&dA, &dB})
            if (v->rows != A.rows || v->cols != A.cols)
                throw std::invalid_argument(std::string(v == &dA ? "dA" : "dB") + " must have A's shape (" +
                                            std::to_string(A.rows) + ", " + std::to_string(A.cols) + "), got (" +
                                            std::to_string(v->rows) + ", " + std::to_string(v->cols) + ")");
        check_no_overlap(dA, A, "dA", "A");
        check_no_overlap(dA, B, "dA", "B");
        check_no_overlap(dB, A, "dB", "A");
        check_no_overlap(dB, B, "dB", "B");
        check_no_overlap(dA, dB, "dA", "dB");
        pa = static_cast<T*>(dA.ptr);
        pb = static_cast<T*>(dB.ptr);
    }
    check_int_dims(A.rows, A.cols, "A");
    py::gil_scoped_release nogil;
    return axf::contrastive<T>(kind, p, temperature, static_cast<const T*>(A.ptr), static_cast<const T*>(B.ptr),
                               A.rows, A.cols, pa, pb, n_threads, br, bc);
}

// out = A @ B, or A^T @ B with trans_a, split over n_threads (axf::matmul_split).  No
// finiteness scan of A and B: a product of non-finite values is non-finite, and the
// caller (the objective) checks its results.
template <typename T>
void py_matmul(py::handle A_, py::handle B_, py::handle out_, bool trans_a, int n_threads) {
    check_blas();
    if (n_threads < 1) throw std::invalid_argument("n_threads must be >= 1, got " + std::to_string(n_threads));
    n_threads = axf::cap_threads(n_threads);
    View A = check_array<T>(A_, "A", false, false), B = check_array<T>(B_, "B", false, false);
    View out = check_array<T>(out_, "out", true);
    const index_t inner = trans_a ? A.rows : A.cols, orows = trans_a ? A.cols : A.rows;
    if (B.rows != inner)
        throw std::invalid_argument("B must have " + std::to_string(inner) + " rows (A's " +
                                    (trans_a ? "rows" : "columns") + "), got " + std::to_string(B.rows));
    if (out.rows != orows || out.cols != B.cols)
        throw std::invalid_argument("out must have shape (" + std::to_string(orows) + ", " + std::to_string(B.cols) +
                                    "), got (" + std::to_string(out.rows) + ", " + std::to_string(out.cols) + ")");
    check_no_overlap(out, A, "out", "A");
    check_no_overlap(out, B, "out", "B");
    check_int_dims(A.rows, A.cols, "A");
    check_int_dims(B.rows, B.cols, "B");
    py::gil_scoped_release nogil;
    axf::matmul_split<T>(static_cast<const T*>(A.ptr), static_cast<const T*>(B.ptr), static_cast<T*>(out.ptr), A.rows,
                         A.cols, B.cols, trans_a, n_threads);
}

void* capsule_pointer(const py::dict& capi, const char* name) {
    py::object cap = capi[name];
    const char* cname = PyCapsule_GetName(cap.ptr());
    void* ptr = PyCapsule_GetPointer(cap.ptr(), cname);
    if (ptr == nullptr) throw py::error_already_set();
    return ptr;
}

}  // namespace

PYBIND11_MODULE(_native, m) {
    m.doc() = "alignxpert_fast C++/OpenMP kernels (private; use the public functions of alignxpert_fast)";
    {
        // BLAS gemm from SciPy's bundled BLAS, as Numba and scikit-learn do.
        py::dict capi = py::module_::import("scipy.linalg.cython_blas").attr("__pyx_capi__");
        axf::set_blas(capsule_pointer(capi, "sgemm"), capsule_pointer(capi, "dgemm"));
    }
    m.attr("__version__") = AXF_VERSION;
    m.def("openmp_enabled", &axf::openmp_enabled, "True if compiled with OpenMP");
    m.def("omp_max_threads", &axf::omp_max_threads, "omp_get_max_threads(), or 1 without OpenMP");
    {
        // the registry and layout facts the Python side states too (tests/test_layout.py)
        py::dict kinds;
        for (int k = 0; k < axf::n_kinds; ++k) kinds[axf::kind_names[k]] = k;
        m.attr("KIND_CODES") = kinds;
        m.attr("MAX_DEGREE") = axf::max_degree;
        py::dict blocks;
        blocks["MIN_BLOCK"] = axf::blocking::min_block;
        blocks["GRAM_MAX_ROWS"] = axf::blocking::gram_max_rows;
        blocks["GRAM_MAX_COLS"] = axf::blocking::gram_max_cols;
        blocks["REDUCTION_COLS"] = axf::blocking::reduction_cols;
        blocks["REDUCTION_MAX_ROWS"] = axf::blocking::reduction_max_rows;
        blocks["STRESS_ROWS"] = axf::blocking::stress_rows;
        m.attr("BLOCKING") = blocks;
    }
    m.def("packed_total", [](index_t n, index_t br) {
        if (n < 0 || br < 1) throw std::invalid_argument("packed_total needs n >= 0 and block_rows >= 1");
        return axf::packed_total(n, br);
    }, "entries of the packed distance cache of n rows in blocks of block_rows");
    m.def("noise_floor_f32", &axf::noise_floor<float>, "squared-distance rounding floor (float32) for a width");
    m.def("noise_floor_f64", &axf::noise_floor<double>, "squared-distance rounding floor (float64) for a width");
    m.def("value_floor_f32", &axf::value_floor<float>, "stress value below which the gradient is 0 (float32)");
    m.def("value_floor_f64", &axf::value_floor<double>, "stress value below which the gradient is 0 (float64)");
    const char* gram_doc = "gram(kind, X, Y, out, gamma, coef0, degree, symmetric, n_threads, block_rows, block_cols)";
    m.def("gram_f32", &py_gram<float>, gram_doc);
    m.def("gram_f64", &py_gram<double>, gram_doc);
    const char* mv_doc =
        "kernel_matvec(kind, X, Y, V_or_None, out, gamma, coef0, degree, symmetric, n_threads, block_rows, block_cols)";
    m.def("kernel_matvec_f32", &py_kernel_matvec<float>, mv_doc);
    m.def("kernel_matvec_f64", &py_kernel_matvec<double>, mv_doc);
    const char* st_doc =
        "stress(X, Z, grad_or_None, n_threads, block_rows, block_cols, relative=False) -> value (relative: pair "
        "weights 1 / D^2)";
    m.def("stress_f32", &py_stress<float>, st_doc, py::arg("X"), py::arg("Z"), py::arg("grad"), py::arg("n_threads"),
          py::arg("block_rows"), py::arg("block_cols"), py::arg("relative") = false);
    m.def("stress_f64", &py_stress<double>, st_doc, py::arg("X"), py::arg("Z"), py::arg("grad"), py::arg("n_threads"),
          py::arg("block_rows"), py::arg("block_cols"), py::arg("relative") = false);
    const char* pk_doc = "stress_pack(X, out(1, total), n_threads, block_rows): packed upper-row-block distances";
    m.def("stress_pack_f32", &py_stress_pack<float>, pk_doc);
    m.def("stress_pack_f64", &py_stress_pack<double>, pk_doc);
    const char* sc_doc =
        "stress_cached(D(1, total), Z, grad_or_None, n_threads, block_rows, block_cols, relative=False) -> value";
    m.def("stress_cached_f32", &py_stress_cached<float>, sc_doc, py::arg("D"), py::arg("Z"), py::arg("grad"),
          py::arg("n_threads"), py::arg("block_rows"), py::arg("block_cols"), py::arg("relative") = false);
    m.def("stress_cached_f64", &py_stress_cached<double>, sc_doc, py::arg("D"), py::arg("Z"), py::arg("grad"),
          py::arg("n_threads"), py::arg("block_rows"), py::arg("block_cols"), py::arg("relative") = false);
    const char* ct_doc =
        "contrastive(kind, A, B, dA_or_None, dB_or_None, gamma, coef0, degree, temperature, n_threads, block_rows, "
        "block_cols) -> value; fills dA, dB with the gradient when given";
    const char* mm_doc = "matmul(A, B, out, trans_a, n_threads): out = A @ B (or A.T @ B), row slabs over threads";
    m.def("matmul_f32", &py_matmul<float>, mm_doc);
    m.def("matmul_f64", &py_matmul<double>, mm_doc);
    m.def("contrastive_f32", &py_contrastive<float>, ct_doc);
    m.def("contrastive_f64", &py_contrastive<double>, ct_doc);
#ifdef __VERSION__
    m.attr("compiler") = __VERSION__;
#endif
}
