"""show_config, set_config / get_config / config_context, thread defaults, OpenMP build."""
from __future__ import annotations

import io

import numpy as np
import pytest
from _testing import assert_allclose, make_data

import alignxpert_fast as axf
from alignxpert_fast.kernels._dispatch import BACKEND_NAMES, backend_status, resolve_backend
from alignxpert_fast._utils.threads import effective_n_threads, max_threads

DEFAULTS = {"backend": "auto", "working_memory": 64, "n_threads": None}


def test_openmp_enabled():
    from alignxpert_fast import _native

    assert _native.openmp_enabled() is True
    assert _native.omp_max_threads() >= 1


def test_show_config_mentions_every_backend(capsys):
    buf = io.StringIO()
    axf.show_config(file=buf)
    text = buf.getvalue()
    assert text.startswith(f"alignxpert_fast {axf.__version__}")
    for name in BACKEND_NAMES:
        ok, err = backend_status()[name]
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(f"backend {name} "))
        assert ("available" in line) if ok else ("NOT available" in line and str(err) in line)
    assert "OpenMP enabled" in text
    assert "backend='auto' resolves to: native" in text
    assert f"n_threads=None -> {effective_n_threads(None)}" in text
    assert "working_memory: 64 MiB" in text
    # default destination is stdout
    axf.show_config()
    assert capsys.readouterr().out == text


def test_show_config_reflects_config(restore_config):
    with axf.config_context(backend="reference", working_memory=7, n_threads=1):
        buf = io.StringIO()
        axf.show_config(file=buf)
    text = buf.getvalue()
    assert "backend='auto' resolves to: reference" in text
    assert "working_memory: 7 MiB" in text
    assert "n_threads=None -> 1" in text


def test_defaults_and_get_config_returns_a_copy(restore_config):
    cfg = axf.get_config()
    assert cfg == DEFAULTS
    cfg["backend"] = "reference"
    assert axf.get_config()["backend"] == "auto"


def test_set_config_round_trip(restore_config):
    axf.set_config(backend="reference", working_memory=16, n_threads=1)
    assert axf.get_config() == {"backend": "reference", "working_memory": 16, "n_threads": 1}
    assert resolve_backend("auto").NAME == "reference"
    assert effective_n_threads(None) == 1
    # None leaves a setting unchanged
    axf.set_config()
    axf.set_config(backend=None, working_memory=None, n_threads=None)
    assert axf.get_config() == {"backend": "reference", "working_memory": 16, "n_threads": 1}
    axf.set_config(backend="auto", n_threads=-1, working_memory=64)
    assert axf.get_config() == {"backend": "auto", "working_memory": 64, "n_threads": -1}
    assert effective_n_threads(None) == max_threads()
    assert resolve_backend("auto").NAME == "native"


def test_config_context_round_trip(restore_config):
    before = axf.get_config()
    with axf.config_context(backend="reference", working_memory=8):
        assert axf.get_config() == {"backend": "reference", "working_memory": 8, "n_threads": None}
        with axf.config_context(n_threads=1, backend="native"):
            assert axf.get_config() == {"backend": "native", "working_memory": 8, "n_threads": 1}
        assert axf.get_config() == {"backend": "reference", "working_memory": 8, "n_threads": None}
    assert axf.get_config() == before
    # restored after an exception inside the block
    with pytest.raises(KeyError):
        with axf.config_context(backend="reference"):
            raise KeyError("boom")
    assert axf.get_config() == before


def test_config_backend_is_used_by_auto(restore_config, monkeypatch, rng):
    """backend='auto' in a public call goes to the configured backend; an explicit
    backend argument wins over the configuration."""
    from alignxpert_fast.kernels._backends import reference

    calls = []
    real = reference.gram
    monkeypatch.setattr(reference, "gram", lambda *a, **k: (calls.append(a[0]), real(*a, **k))[1])
    X = make_data(rng, 9, 3)
    with axf.config_context(backend="reference"):
        axf.rbf_kernel(X)
        assert calls == ["rbf"]
        axf.linear_kernel(X, backend="native")
        assert calls == ["rbf"]
    axf.rbf_kernel(X)  # back to auto -> native
    assert calls == ["rbf"]


def test_config_n_threads_default(restore_config, rng):
    with axf.config_context(n_threads=1):
        assert effective_n_threads(None) == 1
        assert effective_n_threads(2) == 2  # an explicit argument wins
    assert effective_n_threads(None) == max_threads()
    assert effective_n_threads(-1) == max_threads()
    assert effective_n_threads(-max_threads() - 5) == 1


def test_results_do_not_depend_on_working_memory(restore_config, backend, rng):
    X, Z = make_data(rng, 300, 4), make_data(rng, 300, 2)
    V = make_data(rng, 300, 2)
    ref_mv = axf.kernel_matvec(X, None, V, backend=backend)
    ref_st = axf.stress_and_grad(X, Z, backend=backend)
    for wm in (1, 3):
        with axf.config_context(working_memory=wm):
            assert_allclose(axf.kernel_matvec(X, None, V, backend=backend), ref_mv, np.float64)
            v, g = axf.stress_and_grad(X, Z, backend=backend)
            assert_allclose(v, ref_st[0], np.float64)
            assert_allclose(g, ref_st[1], np.float64)


BAD_CONFIG = [
    ({"backend": "gpu"}, ValueError, r"^backend must be one of \('auto', 'native', 'numba', 'reference'\)"),
    ({"backend": 3}, ValueError, r"^backend must be one of"),
    ({"working_memory": 0}, ValueError, r"^working_memory must be >= 1"),
    ({"working_memory": -5}, ValueError, r"^working_memory must be >= 1"),
    ({"working_memory": float("nan")}, ValueError, r"^working_memory must be finite"),
    ({"working_memory": "64"}, TypeError, r"^working_memory must be a real number"),
    ({"n_threads": 0}, ValueError, r"^n_threads must be a non-zero int"),
    ({"n_threads": 1.5}, TypeError, r"^n_threads must be an int"),
    # a bad value next to a good one: nothing is applied
    ({"backend": "reference", "working_memory": 0}, ValueError, r"^working_memory must be >= 1"),
    ({"working_memory": 8, "n_threads": 0}, ValueError, r"^n_threads must be a non-zero int"),
]


@pytest.mark.parametrize("kwargs,exc,match", BAD_CONFIG, ids=[repr(c[0]) for c in BAD_CONFIG])
def test_set_config_validates(kwargs, exc, match, restore_config):
    before = axf.get_config()
    with pytest.raises(exc, match=match):
        axf.set_config(**kwargs)
    assert axf.get_config() == before
    with pytest.raises(exc, match=match):
        with axf.config_context(**kwargs):
            pass  # pragma: no cover
    assert axf.get_config() == before


def test_config_context_unknown_key(restore_config):
    with pytest.raises(TypeError, match="unexpected keyword argument 'threads'"):
        with axf.config_context(threads=2):
            pass  # pragma: no cover
    assert axf.get_config() == DEFAULTS


def test_explicit_unavailable_backend_error_keeps_reason(monkeypatch):
    """An explicit backend that failed to load raises ImportError with the original error."""
    from alignxpert_fast.kernels import _dispatch

    monkeypatch.setitem(_dispatch._loaded, "numba", (None, "ModuleNotFoundError: No module named 'numba'"))
    with pytest.raises(ImportError, match=r"backend 'numba' is not available: ModuleNotFoundError"):
        axf.rbf_kernel(np.ones((2, 2)), backend="numba")
    assert backend_status()["numba"] == (False, "ModuleNotFoundError: No module named 'numba'")
