"""Shared fixtures: ``dtype``, ``backend``, ``rng`` (seeded, printed), and ``--runslow``.

Run from the repository root with ``python -m pytest``.  The helpers ``_testing`` and
``oracles`` are importable because ``tests`` is on ``pythonpath`` (pyproject.toml).

Seeds: the ``rng`` fixture uses ``AXF_TEST_SEED`` (default 0) and prints it, so a
failure report shows how to reproduce it, e.g. ``AXF_TEST_SEED=7 python -m pytest ...``.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from _testing import FAIL_EVERYWHERE_IF_MISSING, REQUIRED_BACKENDS

import alignxpert_fast
from alignxpert_fast.kernels._dispatch import BACKEND_NAMES, backend_status

DTYPES = (np.float32, np.float64)

try:  # property-based tests (tests/test_properties.py); profiles chosen with --hypothesis-profile=NAME
    from hypothesis import HealthCheck, settings

    _HC = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
    # default suite: a bounded, reproducible number of examples (about 10 s in all)
    settings.register_profile("axf-default", max_examples=25, deadline=None, derandomize=True, database=None,
                              suppress_health_check=_HC, print_blob=True)
    # the long fuzz run: 4 x 5000 inputs over the property tests, fresh random seeds
    settings.register_profile("fuzz", max_examples=5000, deadline=None, database=None,
                              suppress_health_check=_HC, print_blob=True)
    settings.load_profile("axf-default")
except ImportError:  # pragma: no cover - hypothesis is in the test extra
    pass


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="marked slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


def pytest_terminal_summary(terminalreporter):
    import sys

    props = sys.modules.get("test_properties")
    if props is not None and props.STATS:
        terminalreporter.write_line("property tests: " + ", ".join(f"{k}: {v}" for k, v in props.STATS.items()))


def pytest_report_header(config):
    lines = [f"alignxpert_fast {alignxpert_fast.__version__}, AXF_TEST_SEED={_seed()}"]
    for name, (ok, err) in backend_status().items():
        req = " (required)" if name in REQUIRED_BACKENDS else ""
        lines.append(f"  backend {name}{req}: {'available' if ok else 'NOT AVAILABLE: ' + str(err)}")
    return lines


def _seed():
    return int(os.environ.get("AXF_TEST_SEED", "0"))


@pytest.fixture(params=DTYPES, ids=lambda t: np.dtype(t).name)
def dtype(request):
    return np.dtype(request.param)


@pytest.fixture(params=BACKEND_NAMES)
def backend(request):
    """Every backend of the registry.

    A missing "native" or "reference" backend fails the test (a CI build without the
    extension must not turn every parity test into a skip).  Any other backend that did
    not load is skipped here; ``test_backends.py::test_required_backend_available``
    fails for each required one (numba included), with the import error.
    """
    name = request.param
    ok, err = backend_status()[name]
    if not ok:
        if name in FAIL_EVERYWHERE_IF_MISSING:
            pytest.fail(f"required backend {name!r} is not available: {err}")
        pytest.skip(f"backend {name!r} not available: {err}")
    return name


@pytest.fixture
def rng():
    seed = _seed()
    print(f"rng seed: {seed} (reproduce with AXF_TEST_SEED={seed})")
    return np.random.default_rng(seed)


@pytest.fixture
def restore_config():
    """Restore the global configuration (set_config) after the test."""
    from alignxpert_fast._config import _get_state

    old = alignxpert_fast.get_config()
    yield
    _get_state().clear()
    _get_state().update(old)
