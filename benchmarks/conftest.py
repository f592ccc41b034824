"""Shared machinery of the pytest-benchmark suites.

Run (never two benchmark sessions at once on the 2-core machines)::

    python -m pytest benchmarks/ --benchmark-enable --benchmark-only \
        [--run-heavy] [--bench-scale=small] --benchmark-json=bench.json
    python benchmarks/report.py bench.json

Options and environment
-----------------------
``--run-heavy``            run the cases marked ``heavy`` (skipped otherwise).
``--bench-scale=small``    tiny shapes for a smoke run; same as ``AXF_BENCH_SMALL=1``.
``AXF_BENCH_ROUNDS=N``     timed rounds for every case (default, set per group in the
                           bench modules: 3 after 1 warm-up round; 1 without warm-up
                           for single-shot baselines of minutes and the n=50000 stress).
``AXF_BENCH_MEM=MODE``     peak-memory probe: ``auto`` (default: a fresh spawned child
                           for heavy cases at full scale, else in-process), ``child``,
                           ``inprocess`` or ``off``.
``AXF_BENCH_GEMM_FULL_MB`` largest n x m GEMM output (MiB) the baseline forms in one
                           piece; bigger ones run on row panels (default 8192).
``AXF_BENCH_NO_LOCK=1``    do not take the machine-wide benchmark lock.

Each bench module declares ``AXF_GROUPS`` (see :func:`_expand`) and a
``build(op, impl, data, *, backend, n_threads)`` that returns a zero-argument callable
for every implementation except ``gemm``, which this file builds.  A group
(op x shape x dtype) times, in one session: the GEMM baseline, scikit-learn, SciPy where
it applies, and ours for backend in ("native", "numba") x n_threads in (1, 2).
Baselines get their thread count through a threadpoolctl BLAS limit; ours through
``n_threads``.  Every case stores in ``benchmark.extra_info``: impl, label, backend,
n_threads, dtype, shape, ratio_to_gemm (median over rounds of time / time of the GEMM
baseline run right before it, with the same thread count: every timed round of a case
is interleaved with one GEMM call, so machine noise hits both), ratio_spread (the
min-max of those per-round ratios), loadavg_1m / loadavg_1m_after and load_exceeded
(True when the 1-minute load average passed the core count, so the ratio is not
trustworthy; report.py marks it), peak_memory_mb (peak extra
resident memory of one call, output included), output_mb, tracemalloc_peak_mb and
first_call_s (the warm-up call, which includes Numba JIT compilation on the first use
of a kernel signature; ``jit_s`` is first_call_s minus the median).
"""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
import zlib

import numpy as np

try:  # conftest is also run as a plain script in the memory-probe child
    import pytest
except ImportError:  # pragma: no cover
    pytest = None

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))

# --------------------------------------------------------------------------------------
# shapes
# --------------------------------------------------------------------------------------
# shape key -> (data kind, full-size shape, small smoke-run shape)
SHAPES = {
    "gram": ("pair", dict(n=8000, m=8000, d=768), dict(n=256, m=256, d=48)),
    "matvec": ("matvec", dict(n=50000, m=50000, d=256, p=16), dict(n=700, m=700, d=32, p=4)),
    "stress": ("stress", dict(n=10000, d=768, k=256), dict(n=300, d=32, k=8)),
    "stress_big": ("stress", dict(n=50000, d=768, k=256), dict(n=600, d=32, k=8)),
    # contrastive similarity: A (n x d) and B (m = n rows) are the "pair" data, d plays k
    "contrastive": ("pair", dict(n=10000, m=10000, d=128), dict(n=300, m=300, d=16)),
    "contrastive_big": ("pair", dict(n=50000, m=50000, d=128), dict(n=600, m=600, d=16)),
}
BACKENDS = ("native", "numba")
THREADS = (1, 2)
# order of implementations in a group (and in report.py)
IMPL_ORDER = ("gemm", "sklearn", "scipy", "ours")

MiB = 2**20


def _env_small():
    return os.environ.get("AXF_BENCH_SMALL", "").strip().lower() not in ("", "0", "false", "no")


def _tiny(shape):
    """A shape small enough for a warm-up call (JIT, thread pools) of the same signature."""
    return {k: min(v, 8 if k in ("p", "k") else 48) for k, v in shape.items()}


def shape_str(shape):
    return " ".join(f"{k}={v}" for k, v in shape.items())


@dataclasses.dataclass(frozen=True)
class Case:
    """One benchmark: an implementation of an operation on one shape and dtype."""

    module_file: str
    op: str
    shape_key: str
    kind: str
    shape: tuple  # ((name, size), ...)
    dtype: str
    impl: str  # gemm | sklearn | scipy | ours
    backend: str | None
    n_threads: int
    rounds: int
    warmup_rounds: int
    heavy: bool
    small: bool
    gemm_full_bytes: int
    gemm_panel_bytes: int

    @property
    def shape_dict(self):
        return dict(self.shape)

    @property
    def group(self):
        return f"{self.op} {shape_str(self.shape_dict)} {self.dtype}"

    @property
    def label(self):
        if self.impl == "ours":
            return f"ours {self.backend} {self.n_threads}t"
        if self.impl == "scipy":
            return f"scipy cdist {self.n_threads}t"
        return f"{self.impl} {self.n_threads}t"

    @property
    def id(self):
        dims = "x".join(str(v) for v in self.shape_dict.values())
        return f"{self.op}-{dims}-{self.dtype}-{self.label.replace(' ', '-')}"


def _expand(module, small):
    """Cases of one bench module from its ``AXF_GROUPS``.

    Each group entry is a dict with keys ``op``, ``shape`` (a SHAPES key), ``impls``
    and optionally ``dtypes`` (default float32, float64), ``threads`` (default (1, 2)),
    ``backends`` (default native, numba), ``heavy`` (bool), ``heavy_impls`` (impls
    marked heavy even when the group is not), ``rounds`` (timed rounds at full scale,
    default 3), ``warmup_rounds`` (default 1) and ``impl_rounds`` ({impl: (rounds,
    warmup_rounds)}).
    """
    full_mb = float(os.environ.get("AXF_BENCH_GEMM_FULL_MB", 8192))
    rounds_env = os.environ.get("AXF_BENCH_ROUNDS")
    cases = []
    for g in module.AXF_GROUPS:
        kind, full, tiny = SHAPES[g["shape"]]
        shape = tiny if small else full
        threads = tuple(g.get("threads", THREADS))
        for dtype in g.get("dtypes", ("float32", "float64")):
            for impl in g["impls"]:
                rounds, warm = g.get("impl_rounds", {}).get(impl, (g.get("rounds", 3), g.get("warmup_rounds", 1)))
                if small:
                    rounds = max(rounds, 3)
                if rounds_env:
                    rounds = int(rounds_env)
                variants = [(b, t) for b in g.get("backends", BACKENDS) for t in threads] if impl == "ours" else (
                    [(None, 1)] if impl == "scipy" else [(None, t) for t in threads])
                for backend, nt in variants:
                    cases.append(Case(
                        module_file=os.path.abspath(module.__file__), op=g["op"], shape_key=g["shape"], kind=kind,
                        shape=tuple(shape.items()), dtype=dtype, impl=impl, backend=backend, n_threads=nt,
                        # Numba always gets a warm-up round: JIT time is never timed
                        rounds=rounds, warmup_rounds=max(warm, 1) if backend == "numba" else warm,
                        heavy=bool(g.get("heavy", False) or impl in g.get("heavy_impls", ())), small=small,
                        # small scale: tiny limits so both the full and the panel-wise GEMM run
                        gemm_full_bytes=int(1 * MiB if small else full_mb * MiB),
                        gemm_panel_bytes=int(64 * 1024 if small else 256 * MiB),
                    ))
    return cases


# --------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------
def make_data(kind, shape, dtype):
    """Deterministic inputs: standard normal embeddings; Z is a random projection of X."""
    dt = np.dtype(dtype)
    seed = zlib.crc32(repr((kind, sorted(shape.items()), dt.name)).encode())
    rng = np.random.default_rng(seed)
    n, d = shape["n"], shape["d"]
    X = rng.standard_normal((n, d), dtype=dt)
    if kind == "pair":
        return {"X": X, "Y": rng.standard_normal((shape["m"], d), dtype=dt)}
    if kind == "matvec":
        return {"X": X, "Y": rng.standard_normal((shape["m"], d), dtype=dt),
                "V": rng.standard_normal((shape["m"], shape["p"]), dtype=dt)}
    if kind == "stress":
        P = rng.standard_normal((d, shape["k"]), dtype=dt) * dt.type(1.0 / np.sqrt(shape["k"]))
        Z = X @ P
        Z += rng.standard_normal(Z.shape, dtype=dt) * dt.type(0.1)
        return {"X": X, "Z": Z}
    raise ValueError(kind)


class _DataCache:
    """Keeps the inputs of the last shape only (the cases of a group run consecutively)."""

    def __init__(self):
        self.key = None
        self.data = None

    def get(self, case):
        key = (case.kind, case.shape, case.dtype)
        if key != self.key:
            self.key, self.data = None, None
            gc.collect()
            self.data = make_data(case.kind, case.shape_dict, case.dtype)
            self.key = key
        return self.data


# --------------------------------------------------------------------------------------
# GEMM baseline
# --------------------------------------------------------------------------------------
def gemm_flops(case):
    s = case.shape_dict
    if case.kind in ("pair", "matvec"):
        return 2.0 * s["n"] * s["m"] * s["d"]
    return 2.0 * s["n"] * s["n"] * (s["d"] + 2 * s["k"])


def gemm_baseline(case, data):
    """The GEMM a compiled kernel of this shape cannot beat; returns (callable, mode).

    pair / matvec: ``X @ Y.T`` (n x d by d x m).  stress: ``A = X Xᵀ``, ``B = Z Zᵀ``,
    ``A Z`` (the n x n by n x k product).  When the n x n (n x m) results would exceed
    ``case.gemm_full_bytes`` the same products run on row panels of about
    ``case.gemm_panel_bytes`` into reused buffers; the time is that of all panels.
    """
    dt = np.dtype(case.dtype)
    X = data["X"]
    n = X.shape[0]
    if case.kind in ("pair", "matvec"):
        Y = data["Y"]
        m = Y.shape[0]
        if n * m * dt.itemsize <= case.gemm_full_bytes:
            return (lambda: X @ Y.T), "full"
        rows = max(1, min(n, case.gemm_panel_bytes // (m * dt.itemsize)))
        YT = Y.T

        def panels():
            buf = np.empty((rows, m), dtype=dt)
            for i in range(0, n, rows):
                j = min(n, i + rows)
                np.matmul(X[i:j], YT, out=buf[: j - i])
            return buf

        return panels, f"panels of {rows} rows"
    Z = data["Z"]
    if 2 * n * n * dt.itemsize <= case.gemm_full_bytes:
        def full():
            A = X @ X.T
            B = Z @ Z.T  # noqa: F841 - kept alive like the dense algorithm would
            return A @ Z

        return full, "full"
    rows = max(1, min(n, case.gemm_panel_bytes // (n * dt.itemsize)))
    XT, ZT = X.T, Z.T

    def stress_panels():
        A = np.empty((rows, n), dtype=dt)
        B = np.empty((rows, n), dtype=dt)
        C = np.empty(Z.shape, dtype=dt)
        for i in range(0, n, rows):
            j = min(n, i + rows)
            np.matmul(X[i:j], XT, out=A[: j - i])
            np.matmul(Z[i:j], ZT, out=B[: j - i])
            np.matmul(A[: j - i], Z, out=C[i:j])
        return C

    return stress_panels, f"panels of {rows} rows"


def _load_module(path):
    name = "axf_bench_" + os.path.splitext(os.path.basename(path))[0]
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        sys.modules[name] = mod
    return sys.modules[name]


def build_fn(case, data, module=None):
    """Zero-argument callable running ``case`` on ``data``, and a note for extra_info."""
    if case.impl == "gemm":
        return gemm_baseline(case, data)
    module = module or _load_module(case.module_file)
    fn = module.build(case.op, case.impl, data, backend=case.backend, n_threads=case.n_threads)
    return fn, getattr(fn, "note", None)


def thread_limit(case):
    """Baselines get their thread count from a BLAS limit; ours take ``n_threads``."""
    if case.impl == "ours":
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=case.n_threads, user_api="blas")


# --------------------------------------------------------------------------------------
# peak memory
# --------------------------------------------------------------------------------------
def _status_kb():
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = int(line.split()[1])
    except OSError:
        pass
    return out


def _reset_hwm():
    """Reset VmHWM to the current RSS (Linux >= 4.0: ``echo 5 > /proc/self/clear_refs``)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _malloc_trim():
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _nbytes(obj):
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, (tuple, list)):
        return sum(_nbytes(o) for o in obj)
    return 0


def measure_peak(fn):
    """Peak extra memory of one call of ``fn`` in this process.

    ``rss_peak_mb``: VmHWM after the call minus VmRSS before it, with VmHWM reset and
    freed heap returned to the OS first; it sees native (C++/OpenMP/BLAS) allocations.
    ``tracemalloc_peak_mb``: the peak of Python and NumPy allocations.  Both include the
    output, whose size is ``output_mb``.
    """
    gc.collect()
    _malloc_trim()
    reset = _reset_hwm()
    rss0 = _status_kb().get("VmRSS")
    was_tracing = tracemalloc.is_tracing()
    if was_tracing:
        tracemalloc.reset_peak()
    else:
        tracemalloc.start()
    try:
        out = fn()
        tm_peak = tracemalloc.get_traced_memory()[1]
    finally:
        if not was_tracing:
            tracemalloc.stop()
    hwm = _status_kb().get("VmHWM")
    res = {"tracemalloc_peak_mb": tm_peak / MiB, "output_mb": _nbytes(out) / MiB}
    res["rss_peak_mb"] = (hwm - rss0) / 1024 if (reset and hwm is not None and rss0 is not None) else None
    del out
    return res


def _probe_main(spec, out_path):
    """Body of the spawned memory-probe child: fresh process, warm-up, one measured call."""
    res = {}
    try:
        case = Case(**{**spec, "shape": tuple(tuple(x) for x in spec["shape"])})
        tiny = dataclasses.replace(case, shape=tuple(_tiny(case.shape_dict).items()))
        with thread_limit(case):
            tiny_fn, _ = build_fn(tiny, make_data(tiny.kind, tiny.shape_dict, tiny.dtype))
            tiny_fn()  # JIT compilation, thread pools, BLAS buffers: not part of the call
            del tiny_fn
            data = make_data(case.kind, case.shape_dict, case.dtype)
            fn, _ = build_fn(case, data)
            res = measure_peak(fn)
    except BaseException as exc:  # noqa: BLE001 - reported, never fatal to the benchmark
        res = {"error": f"{type(exc).__name__}: {exc}"}
    with open(out_path, "w") as f:
        json.dump(res, f)


def measure_peak_child(case, timeout=7200):
    """:func:`measure_peak` of one call in a fresh ``multiprocessing`` spawn child."""
    import multiprocessing
    import runpy

    fd, path = tempfile.mkstemp(prefix="axf-memprobe-", suffix=".json")
    os.close(fd)
    try:
        ctx = multiprocessing.get_context("spawn")
        p = ctx.Process(
            target=runpy.run_path,
            args=(os.path.abspath(__file__),),
            kwargs={"run_name": "__axf_memprobe__",
                    "init_globals": {"AXF_PROBE_SPEC": dataclasses.asdict(case), "AXF_PROBE_OUT": path}},
        )
        p.start()
        p.join(timeout)
        if p.is_alive():
            p.kill()
            p.join()
            return {"error": f"memory probe timed out after {timeout} s"}
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {"error": f"memory probe exited with code {p.exitcode} and no result"}
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def mem_mode(case, enabled):
    mode = os.environ.get("AXF_BENCH_MEM", "auto").strip().lower() or "auto"
    if mode not in ("auto", "child", "inprocess", "off"):
        raise ValueError(f"AXF_BENCH_MEM must be auto, child, inprocess or off, got {mode!r}")
    if mode == "auto":
        if not enabled:
            return "off"
        return "child" if (case.heavy and not case.small) else "inprocess"
    return mode


# --------------------------------------------------------------------------------------
# extra_info
# --------------------------------------------------------------------------------------
def store_info(benchmark, **fields):
    """Store JSON-friendly fields in ``benchmark.extra_info`` (floats rounded, None kept)."""
    for k, v in fields.items():
        if isinstance(v, (float, np.floating)):
            v = float(f"{float(v):.6g}")
        elif isinstance(v, np.integer):
            v = int(v)
        benchmark.extra_info[k] = v


class _FirstCallTimer:
    """Calls ``fn``, drops its result (so one output is alive at a time) and times the
    first call, which pedantic() makes the warm-up round."""

    def __init__(self, fn):
        self.fn = fn
        self.first_call_s = None

    def __call__(self):
        if self.first_call_s is None:
            t0 = time.perf_counter()
            self.fn()
            self.first_call_s = time.perf_counter() - t0
        else:
            self.fn()


def _median(benchmark):
    st = getattr(benchmark, "stats", None)
    return None if st is None else st.stats.median


class Runner:
    """Session-wide state: input cache, GEMM medians per (group, n_threads), JIT tracking."""

    def __init__(self):
        self.data = _DataCache()
        self.gemm = {}  # (group, n_threads) -> (median seconds, source)
        self.seen = set()  # (backend, op, dtype) already called in this process

    def _gemm_median(self, case, data):
        key = (case.group, case.n_threads)
        if key not in self.gemm:  # the gemm case was deselected: measure it here, once
            gcase = dataclasses.replace(case, impl="gemm", backend=None)
            fn, _ = gemm_baseline(gcase, data)
            times = []
            with thread_limit(gcase):
                for i in range(case.warmup_rounds + case.rounds):
                    t0 = time.perf_counter()
                    fn()
                    if i >= case.warmup_rounds:
                        times.append(time.perf_counter() - t0)
            self.gemm[key] = (statistics.median(times), "measured outside pytest-benchmark")
        return self.gemm[key]

    def __call__(self, benchmark, case):
        if case.impl == "ours":
            from alignxpert_fast.kernels._dispatch import backend_status

            ok, why = backend_status()[case.backend]
            if not ok:
                pytest.skip(f"backend {case.backend!r} not available: {why}")
        benchmark.group = case.group
        data = self.data.get(case)
        fn, note = build_fn(case, data)  # note: gemm mode (full / panels) or a baseline's remark
        timer = _FirstCallTimer(fn)
        jit_key = (case.backend, case.op, case.dtype)
        first_use = case.impl == "ours" and jit_key not in self.seen
        load1 = os.getloadavg()[0]
        # every round of a non-GEMM case is preceded by one GEMM call of the same shape and
        # thread count (pedantic's untimed setup), timed here: paired ratios per round
        paired = []
        setup = None
        if case.impl != "gemm":
            gcase = dataclasses.replace(case, impl="gemm", backend=None)
            gfn, _ = gemm_baseline(gcase, data)

            def setup():
                with thread_limit(gcase):
                    t0 = time.perf_counter()
                    gfn()
                    paired.append(time.perf_counter() - t0)

        with thread_limit(case):
            benchmark.pedantic(timer, setup=setup, rounds=case.rounds, warmup_rounds=case.warmup_rounds,
                               iterations=1)
        load_after = os.getloadavg()[0]
        if case.impl == "ours":
            self.seen.add(jit_key)
        median = _median(benchmark)
        info = dict(
            impl=case.impl, label=case.label, backend=case.backend, n_threads=case.n_threads, dtype=case.dtype,
            shape=shape_str(case.shape_dict), op=case.op, rounds=case.rounds, warmup_rounds=case.warmup_rounds,
            first_call_s=timer.first_call_s, loadavg_1m=load1, loadavg_1m_after=load_after,
            load_exceeded=max(load1, load_after) > (os.cpu_count() or 1), scale="small" if case.small else "full",
        )
        if note:
            info["gemm_mode" if case.impl == "gemm" else "note"] = note
        if case.impl == "ours" and case.backend == "numba":
            info["first_call_includes_jit"] = first_use
            if median is not None and timer.first_call_s is not None:
                info["jit_s"] = max(0.0, timer.first_call_s - median)
        if median is not None:
            if case.impl == "gemm":
                self.gemm[(case.group, case.n_threads)] = (median, "benchmark")
                info["gflops"] = gemm_flops(case) / median / 1e9
                info.update(ratio_to_gemm=1.0, gemm_median_s=median, gemm_source="benchmark")
            else:
                times = list(benchmark.stats.stats.data)[-case.rounds:]
                gemm_times = paired[-len(times):]
                if len(gemm_times) == len(times) and times:
                    ratios = [t / g for t, g in zip(times, gemm_times)]
                    info.update(ratio_to_gemm=statistics.median(ratios), ratio_spread=[min(ratios), max(ratios)],
                                gemm_median_s=statistics.median(gemm_times), gemm_source="interleaved")
                else:  # pragma: no cover - pytest-benchmark without setup rounds
                    gm, src = self._gemm_median(case, data)
                    info.update(ratio_to_gemm=median / gm, gemm_median_s=gm, gemm_source=src)
        mode = mem_mode(case, not benchmark.disabled)
        if mode == "child":
            mem = measure_peak_child(case)
        elif mode == "inprocess":
            with thread_limit(case):
                mem = measure_peak(fn)
        else:
            mem = {}
        if mem:
            rss = mem.get("rss_peak_mb")
            info.update(
                peak_memory_mb=rss if rss is not None else mem.get("tracemalloc_peak_mb"),
                peak_memory_method=(f"{mode} VmHWM" if rss is not None else f"{mode} tracemalloc"),
                tracemalloc_peak_mb=mem.get("tracemalloc_peak_mb"), output_mb=mem.get("output_mb"),
            )
            if "error" in mem:
                info["peak_memory_error"] = mem["error"]
        store_info(benchmark, **info)


# --------------------------------------------------------------------------------------
# pytest hooks
# --------------------------------------------------------------------------------------
if pytest is not None and __name__ != "__axf_memprobe__":

    def pytest_addoption(parser):
        group = parser.getgroup("alignxpert_fast benchmarks")
        group.addoption("--run-heavy", action="store_true", default=False,
                        help="run benchmark cases marked 'heavy' (large shapes, minutes each)")
        group.addoption("--bench-scale", choices=("full", "small"), default=None,
                        help="'small' shrinks every benchmark shape for a smoke run "
                             "(default: full, or small when AXF_BENCH_SMALL=1)")

    def _small(config):
        opt = config.getoption("--bench-scale")
        return _env_small() if opt is None else opt == "small"

    def pytest_collect_file(file_path, parent):
        # bench_*.py are not test_*.py: collect them here (but not twice when named)
        if (file_path.suffix == ".py" and file_path.name.startswith("bench_")
                and str(file_path.parent) == BENCH_DIR and not parent.session.isinitpath(file_path)):
            return pytest.Module.from_parent(parent, path=file_path)
        return None

    def pytest_generate_tests(metafunc):
        if "axf_case" in metafunc.fixturenames:
            cases = _expand(metafunc.module, _small(metafunc.config))
            metafunc.parametrize("axf_case", [
                pytest.param(c, id=c.id, marks=[pytest.mark.heavy] if c.heavy else []) for c in cases
            ])

    def pytest_collection_modifyitems(config, items):
        if config.getoption("--run-heavy"):
            return
        skip = pytest.mark.skip(reason="heavy benchmark: pass --run-heavy")
        for item in items:
            if "heavy" in item.keywords and str(item.path).startswith(BENCH_DIR + os.sep):
                item.add_marker(skip)

    @pytest.fixture(scope="session")
    def axf_run(request):
        """``axf_run(benchmark, axf_case)`` times one case and fills ``extra_info``."""
        lock = None
        bs = getattr(request.config, "_benchmarksession", None)
        enabled = bs is not None and not bs.disabled
        if enabled and not os.environ.get("AXF_BENCH_NO_LOCK"):
            lock = _take_lock(request.config)
        try:
            yield Runner()
        finally:
            if lock is not None:
                lock.close()

    def _take_lock(config):
        """One benchmark session per machine at a time: wait for the lock."""
        import fcntl

        path = os.path.join(tempfile.gettempdir(), "alignxpert_fast-benchmarks.lock")
        f = open(path, "a+")  # noqa: SIM115 - held for the session
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            tr = config.pluginmanager.get_plugin("terminalreporter")
            if tr is not None:
                tr.write_line(f"another benchmark session holds {path}; waiting for it to finish "
                              "(AXF_BENCH_NO_LOCK=1 skips the lock)", yellow=True)
            fcntl.flock(f, fcntl.LOCK_EX)
        return f


if __name__ == "__axf_memprobe__":  # run by measure_peak_child() in a spawned process
    _probe_main(globals()["AXF_PROBE_SPEC"], globals()["AXF_PROBE_OUT"])
