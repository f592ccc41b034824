"""``n_threads=None`` means OpenMP's current limit, as in scikit-learn: threadpoolctl (and
joblib / Dask workers that set limits through it) reach the native and Numba kernels."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import alignxpert_fast as axf
from alignxpert_fast._utils.threads import effective_n_threads
from alignxpert_fast.kernels._backends import native, numba_cpu

CORES = len(os.sched_getaffinity(0))


def test_none_follows_threadpool_limits():
    full = effective_n_threads(None)
    with threadpool_limits(limits=1):
        assert effective_n_threads(None) == 1
        assert effective_n_threads(-1) == 1
    assert effective_n_threads(None) == full == min(CORES, full)


@pytest.mark.parametrize("backend", ["native", "numba"])
def test_kernels_get_one_thread_under_threadpool_limits(backend, monkeypatch):
    mod = {"native": native, "numba": numba_cpu}[backend]
    seen = []
    real = mod.gram

    def spy(*args, **kwargs):
        seen.append(kwargs["n_threads"])
        return real(*args, **kwargs)

    monkeypatch.setattr(mod, "gram", spy)
    X = np.random.default_rng(0).standard_normal((2000, 64))  # work enough for every core
    with threadpool_limits(limits=1):
        K1 = axf.rbf_kernel(X, backend=backend)
    K2 = axf.rbf_kernel(X, backend=backend)
    assert seen[0] == 1
    assert seen[1] == min(CORES, effective_n_threads(None))
    np.testing.assert_allclose(K1, K2, rtol=1e-12, atol=1e-12)


@pytest.mark.skipif(CORES < 2, reason="needs 2 cores to see a second thread")
def test_native_starts_no_openmp_threads_under_threadpool_limits():
    """Counted in /proc/self/task: the first native call under threadpool_limits(1) starts
    no OpenMP worker; an unlimited call afterwards does."""
    code = textwrap.dedent("""
        import os
        import numpy as np
        from threadpoolctl import threadpool_limits
        import alignxpert_fast as axf
        X = np.random.default_rng(0).standard_normal((3000, 64))
        axf.rbf_kernel(X[:10], backend="reference")  # imports, BLAS threads started
        tasks = lambda: len(os.listdir("/proc/self/task"))
        with threadpool_limits(limits=1):
            before = tasks()
            axf.rbf_kernel(X, backend="native")
            limited = tasks()
        axf.rbf_kernel(X, backend="native")
        print(before, limited, tasks())
    """)
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    before, limited, after = map(int, out.stdout.split())
    assert limited == before
    assert after > limited


def test_fit_runs_blas_on_one_thread_and_restores_it():
    """The fit holds one re-entrant single-thread BLAS limit (its kernels' nested limits
    then cost a counter) and gives the previous limits back when it ends."""
    from threadpoolctl import threadpool_info

    def blas():
        return sorted((i["internal_api"], i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas")

    rng = np.random.default_rng(0)
    views = [rng.standard_normal((120, 6)), rng.standard_normal((120, 5))]
    seen = []

    def callback(it, loss, params):
        seen.append(blas())
        return False

    with threadpool_limits(limits=2, user_api="blas"):
        before = blas()
        axf.AlignXpert(3, random_state=0, max_iter=3).fit(views, callbacks=callback)
        assert blas() == before
    assert seen and all(n == 1 for state in seen for _, n in state)
