"""Fork, threads and signals (issue 10, items 1, 2 and 8).

Anything that could hang runs in a subprocess with a timeout, so a regression fails the
test instead of wedging pytest.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import alignxpert_fast as axf
from alignxpert_fast import _native
from alignxpert_fast._utils import threads as threads_mod
from alignxpert_fast.kernels import _plan

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run_python(code, timeout=120, **kw):
    """Run ``code`` in a fresh interpreter importing this checkout; return the result."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                              timeout=timeout, env=env, cwd=ROOT, **kw)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"timed out after {timeout} s (a hang): {exc.stdout!r} {exc.stderr!r}")


# ----------------------------------------------------------------- thread caps
def test_huge_n_threads_is_capped_in_python():
    hw = threads_mod.hardware_threads()
    assert 1 <= hw <= threads_mod.MAX_THREADS
    assert threads_mod.effective_n_threads(100000) == hw
    assert threads_mod.effective_n_threads(2**31 - 1) == hw
    assert threads_mod.effective_n_threads(-100000) == 1


@pytest.mark.parametrize("backend", ["native", "numba"])
def test_huge_n_threads_gives_serial_results(backend, rng):
    X = rng.standard_normal((700, 40)).astype(np.float32)
    for fn in (axf.rbf_kernel, axf.euclidean_distances, axf.cosine_similarity):
        np.testing.assert_array_equal(fn(X, backend=backend, n_threads=100000), fn(X, backend=backend, n_threads=1))
    Z = X[:, :3].copy()
    assert axf.stress(X, Z, backend=backend, n_threads=2**31 - 1) == axf.stress(X, Z, backend=backend, n_threads=1)


def test_direct_native_call_with_int_max_threads_does_not_abort(rng):
    # libgomp aborted here ("Out of memory allocating 481 GB") before the bindings capped the count
    X = rng.standard_normal((64, 5))
    out, ref = np.empty((64, 64)), np.empty((64, 64))
    _native.gram_f64(1, X, X, out, 0.5, 1.0, 3, True, 2**31 - 1, 16, 16)
    _native.gram_f64(1, X, X, ref, 0.5, 1.0, 3, True, 1, 16, 16)
    np.testing.assert_array_equal(out, ref)
    v = np.empty((64, 1))
    _native.kernel_matvec_f64(1, X, X, None, v, 0.5, 1.0, 3, True, 2**31 - 1, 16, 16)
    assert np.isfinite(_native.stress_f64(X, X[:, :2].copy(), None, 2**31 - 1, 16, 16))
    with pytest.raises(ValueError, match="n_threads must be >= 1"):
        _native.gram_f64(1, X, X, out, 0.5, 1.0, 3, True, 0, 16, 16)


def test_omp_thread_limit_is_honoured_by_direct_calls():
    env = dict(os.environ, OMP_THREAD_LIMIT="1", PYTHONPATH=ROOT)
    code = ("import numpy as np; from alignxpert_fast import _native; X = np.ones((500, 4)); "
            "v = np.empty((500, 1)); _native.kernel_matvec_f64(1, X, X, None, v, 0.5, 1.0, 3, True, 100000, 64, 64); "
            "print(float(v[0, 0]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert float(r.stdout) == 500.0


# ----------------------------------------------------------------------- fork
_FORK_CODE = """
    import functools, multiprocessing as mp, sys
    import numpy as np
    import alignxpert_fast as axf
    backend = sys.argv[1]
    X = np.random.default_rng(0).standard_normal((600, 40))
    Z = X[:, :3].copy()
    ref = axf.rbf_kernel(X, backend=backend, n_threads=2)           # the parent's pool is now running
    ref_s = axf.stress(X, Z, backend=backend, n_threads=2)
    with mp.get_context("fork").Pool(2) as pool:
        res = pool.map(functools.partial(axf.rbf_kernel, backend=backend, n_threads=2), [X, X])
        res_s = pool.starmap(functools.partial(axf.stress, backend=backend, n_threads=2), [(X, Z), (X, Z)])
    assert all(np.allclose(r, ref, rtol=1e-12, atol=1e-12) for r in res), "wrong kernel in the child"
    assert all(abs(s - ref_s) <= 1e-12 * ref_s for s in res_s), "wrong stress in the child"
    after = axf.rbf_kernel(X, backend=backend, n_threads=2)       # the parent still runs threaded
    assert np.array_equal(after, ref)
    print("fork ok")
"""


@pytest.mark.parametrize("backend", ["native", "numba", "reference"])
def test_fork_pool_after_a_kernel_does_not_hang(backend):
    r = _run_python(_FORK_CODE.replace("sys.argv[1]", repr(backend)), timeout=180)
    assert r.returncode == 0 and "fork ok" in r.stdout, r.stderr[-2000:]
    assert "Terminating" not in r.stderr


def test_forked_child_resolves_one_thread():
    r = _run_python("""
        import os
        from alignxpert_fast._utils import threads
        assert not threads.in_forked_child() and threads.effective_n_threads(-1) >= 1
        pid = os.fork()
        if pid == 0:
            os._exit(0 if threads.in_forked_child() and threads.effective_n_threads(8) == 1 else 3)
        _, status = os.waitpid(pid, 0)
        print("status", os.waitstatus_to_exitcode(status))
    """)
    assert "status 0" in r.stdout, r.stderr


# ---------------------------------------------------------------- Python threads
def test_eight_python_threads_equal_serial_results(rng):
    X = rng.standard_normal((300, 16)).astype(np.float32)
    Y = rng.standard_normal((200, 16)).astype(np.float32)
    V = rng.standard_normal((200, 3)).astype(np.float32)
    Z = X[:, :3].copy()
    jobs = []
    for backend in ("native", "numba", "reference"):
        jobs += [
            ("rbf", backend, lambda b=backend: axf.rbf_kernel(X, Y, backend=b, n_threads=2)),
            ("dist", backend, lambda b=backend: axf.euclidean_distances(X, backend=b, n_threads=2)),
            ("matvec", backend, lambda b=backend: axf.kernel_matvec(X, Y, V, backend=b, n_threads=2)),
            ("stress", backend, lambda b=backend: axf.stress_and_grad(X, Z, backend=b, n_threads=2)),
        ]
    from threadpoolctl import threadpool_info

    def blas_counts():
        return sorted((i["filepath"], i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas")

    before = blas_counts()
    serial = {(name, b): fn() for name, b, fn in jobs}
    results, errors = {}, []
    barrier = threading.Barrier(8)

    def worker(t):
        try:
            barrier.wait()
            for i in range(3):
                name, b, fn = jobs[(t + i * 8) % len(jobs)]
                results[(t, i)] = (name, b, fn())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    ts = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not any(t.is_alive() for t in ts), "a kernel thread hung"
    assert not errors, errors
    assert len(results) == 24
    assert blas_counts() == before  # the last thread out restored the BLAS limits
    for name, b, value in results.values():
        ref = serial[(name, b)]
        if name == "stress":
            assert value[0] == ref[0]
            np.testing.assert_array_equal(value[1], ref[1])
        else:
            np.testing.assert_array_equal(value, ref)


def test_blas_limit_reaches_openblas_in_a_worker_thread():
    from threadpoolctl import threadpool_info

    seen = {}

    def probe():
        with threads_mod.single_threaded_blas():
            seen["inside"] = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    t = threading.Thread(target=probe)
    t.start()
    t.join()
    assert seen["inside"] and all(n == 1 for n in seen["inside"]), seen


def test_fit_in_a_worker_thread_is_bit_identical_to_main_thread():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((400, 12))
    B = A[:, :8] @ rng.standard_normal((8, 8)) + 0.1 * rng.standard_normal((400, 8))

    def fit():
        return axf.AlignXpert(4, max_iter=15, random_state=0, n_threads=2).fit([A, B])

    main = fit()
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("est", fit()))
    t.start()
    t.join(120)
    for W0, W1 in zip(main.components_, box["est"].components_):
        np.testing.assert_array_equal(W0, W1)
    assert main.loss_curve_ == box["est"].loss_curve_


@pytest.mark.parametrize("backend", ["native", "numba", "reference"])
def test_stress_value_is_thread_count_independent_with_default_blocks(backend):
    # n between the tile sizes for one and two threads: the default tiles used to follow n_threads
    for seed, n in enumerate((90, 300, 513)):
        rng = np.random.default_rng(seed)
        X, Z = rng.standard_normal((n, 7)), rng.standard_normal((n, 3))
        v1 = axf.stress(X, Z, backend=backend, n_threads=1)
        assert axf.stress(X, Z, backend=backend, n_threads=2) == v1
        assert axf.stress_and_grad(X, Z, backend=backend, n_threads=2)[0] == v1
    assert _plan.stress_plan(np.zeros((300, 3)), False, 1, 10**12, None, None)[1:] == \
        _plan.stress_plan(np.zeros((300, 3)), False, 2, 10**12, None, None)[1:]


# ---------------------------------------------------------------------- signals
def test_ctrl_c_during_a_fit_keeps_the_best_state():
    code = """
        import json, os, signal, sys
        import numpy as np
        import alignxpert_fast as axf
        # a shell that starts this test in the background ignores SIGINT for its children,
        # and Python then keeps it ignored: install the KeyboardInterrupt handler explicitly
        signal.signal(signal.SIGINT, signal.default_int_handler)
        rng = np.random.default_rng(0)
        A = rng.standard_normal((1500, 30))
        B = A[:, :20] @ rng.standard_normal((20, 20)) + 0.1 * rng.standard_normal((1500, 20))
        sent = []
        def cb(iteration, loss, params):
            if iteration == 3 and not sent:  # a real SIGINT, delivered while the fit runs (its
                sent.append(1)               # handler raises KeyboardInterrupt in this thread right away)
                os.kill(os.getpid(), signal.SIGINT)
            return False
        est = axf.AlignXpert(8, max_iter=100000, tol=0.0, random_state=0, solver="SOLVER",
                             early_stopping=EARLY).fit([A, B], callbacks=[cb])
        ok = all(np.isfinite(W).all() for W in est.components_)
        print(json.dumps({"stop": est.stop_reason_, "finite": bool(ok), "n_iter": est.n_iter_,
                          "best": bool(est.loss_ <= min(est.loss_curve_) + 1e-12)}))
    """
    import json

    for solver, early in (("lbfgs", False), ("adam", False), ("lbfgs", True)):
        # early stopping (the default, full batch) holds out pairs first: a Ctrl-C there ends the fit too
        r = _run_python(code.replace("SOLVER", solver).replace("EARLY", str(early)), timeout=240)
        assert r.returncode == 0, r.stderr[-2000:]
        out = json.loads(r.stdout.strip().splitlines()[-1])
        assert out["stop"] == "interrupted" and out["finite"] and out["n_iter"] >= 3, out
        if solver == "lbfgs":
            assert out["best"], out
