"""The blockwise reductions never allocate an n x n array.

* tracemalloc (sees every NumPy allocation) around kernel_matvec and stress_and_grad,
  for every backend, with n large enough that one n x n float64 array is more than 10x
  the asserted peak.
* tracemalloc does not see C++ std::vector (or Numba NRT) allocations, so for the
  compiled backends a subprocess also measures the growth of its peak RSS (VmHWM, reset
  through /proc/self/clear_refs) during the call, with the default configuration.

No timings are asserted.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import oracles
import pytest
from _testing import assert_allclose

import alignxpert_fast as axf

D, K = 8, 4

# tracemalloc test: scratch limited by working_memory (MiB, all threads together)
N_TRACE = 6000
WORKING_MEMORY = 4
TRACE_BUDGET = 25 * 10**6
assert N_TRACE**2 * 8 >= 10 * TRACE_BUDGET  # 288 MB vs 25 MB

# RSS test: default configuration (working_memory = 64 MiB)
N_RSS = 12000
RSS_BUDGET = 100 * 10**6
assert N_RSS**2 * 8 >= 10 * RSS_BUDGET  # 1.15 GB vs 100 MB


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, D))
    Z = rng.standard_normal((n, K))
    V = rng.standard_normal(n)
    return X, Z, V


def _traced_peak(fn):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.fixture(scope="module")
def big():
    return _data(N_TRACE)


def test_tracemalloc_peak_kernel_matvec(backend, big):
    X, _, V = big
    axf.kernel_matvec(X[:50], None, V[:50], backend=backend)  # warm up (JIT, thread pools)
    with axf.config_context(working_memory=WORKING_MEMORY):
        out, peak = _traced_peak(lambda: axf.kernel_matvec(X, None, V, "rbf", backend=backend))
    assert peak < TRACE_BUDGET, f"peak {peak / 1e6:.1f} MB >= {TRACE_BUDGET / 1e6:.0f} MB"
    assert out.shape == (N_TRACE,)
    # spot-check a few rows against the naive formula
    rows = [0, 1, N_TRACE // 2, N_TRACE - 1]
    assert_allclose(out[rows], oracles.kernel_matvec("rbf", X[rows], X, V), np.float64)


def test_tracemalloc_peak_stress_and_grad(backend, big):
    X, Z, _ = big
    axf.stress_and_grad(X[:50], Z[:50], backend=backend)  # warm up
    with axf.config_context(working_memory=WORKING_MEMORY):
        (value, grad), peak = _traced_peak(lambda: axf.stress_and_grad(X, Z, backend=backend))
    assert peak < TRACE_BUDGET, f"peak {peak / 1e6:.1f} MB >= {TRACE_BUDGET / 1e6:.0f} MB"
    assert grad.shape == (N_TRACE, K) and np.all(np.isfinite(grad))
    # independent X and Z in different dimensions: stress is well inside (0, 1.5)
    assert 0.1 < value < 1.5
    # the gradient of a translation-invariant function sums to 0 over the points
    assert np.all(np.abs(grad.sum(axis=0)) <= 1e-8 * np.abs(grad).sum(axis=0))


_RSS_CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import alignxpert_fast as axf

    def status(key):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError(key + " not in /proc/self/status")

    def reset_peak():
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            return True
        except OSError:
            return False

    backend, n, d, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)); Z = rng.standard_normal((n, k)); V = rng.standard_normal(n)
    # warm up: JIT, BLAS, OpenMP thread pools
    axf.kernel_matvec(X[:300], None, V[:300], backend=backend)
    axf.stress_and_grad(X[:300], Z[:300], backend=backend)
    ops = {
        "kernel_matvec": lambda: axf.kernel_matvec(X, None, V, "rbf", backend=backend),
        "stress_and_grad": lambda: axf.stress_and_grad(X, Z, backend=backend),
    }
    result = {}
    for name, op in ops.items():
        was_reset = reset_peak()
        base = status("VmRSS")
        op()
        # without a reset VmHWM may predate the call: the growth is then overestimated
        result[name] = {"growth": status("VmHWM") - base, "reset": was_reset}
    print(json.dumps(result))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status (Linux)")
@pytest.mark.parametrize("backend", ["native", "numba"], indirect=True)
def test_peak_rss_growth_compiled_backends(backend, tmp_path):
    """Peak RSS growth of kernel_matvec and stress_and_grad stays far below n^2 * 8."""
    script = tmp_path / "rss_child.py"
    script.write_text(_RSS_CHILD)
    env = dict(os.environ)
    proc = subprocess.run(
        [sys.executable, str(script), backend, str(N_RSS), str(D), str(K)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(result)
    for op, r in result.items():
        assert r["growth"] < RSS_BUDGET, (
            f"{op}: peak RSS grew by {r['growth'] / 1e6:.1f} MB (n^2 * 8 = {N_RSS**2 * 8 / 1e9:.2f} GB, "
            f"budget {RSS_BUDGET / 1e6:.0f} MB)"
        )


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["native", "numba"], indirect=True)
def test_tracemalloc_peak_default_config_large(backend):
    """n = 20000 with the default working_memory: an n x n float64 array would be 3.2 GB;
    the NumPy-visible peak stays under 100 MB (compiled backends; run with --runslow)."""
    n, budget = 20000, 100 * 10**6
    assert n**2 * 8 >= 10 * budget
    X, Z, V = _data(n, seed=1)
    axf.kernel_matvec(X[:50], None, V[:50], backend=backend)
    axf.stress_and_grad(X[:50], Z[:50], backend=backend)
    out, peak_mv = _traced_peak(lambda: axf.kernel_matvec(X, None, V, "rbf", backend=backend))
    (value, grad), peak_st = _traced_peak(lambda: axf.stress_and_grad(X, Z, backend=backend))
    assert peak_mv < budget and peak_st < budget, (peak_mv, peak_st)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(grad)) and 0.1 < value < 1.5
