"""The cached threadpoolctl controller limits SciPy's BLAS (the one the kernels' tiles
call) even when its first use comes before any kernel has loaded SciPy's BLAS."""
from __future__ import annotations

import subprocess
import sys
import textwrap


def test_first_use_before_scipy_blas_still_limits_it():
    code = textwrap.dedent("""
        import sys
        assert "scipy.linalg" not in sys.modules
        from alignxpert_fast._utils import threads as _threads
        with _threads.single_threaded_blas():  # the controller's first use: SciPy's BLAS not loaded yet
            pass
        from threadpoolctl import threadpool_info
        with _threads.single_threaded_blas():
            info = [d for d in threadpool_info() if d["user_api"] == "blas"]
        assert info and all(d["num_threads"] == 1 for d in info), info
        assert any("scipy" in d["filepath"] for d in info), info
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr
