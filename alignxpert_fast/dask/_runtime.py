"""What every Dask entry point shares: input checks, operands shared once, the thread
count of a task, aligned chunks, and the Numba warm-up of the workers.

Functions in this module that run on workers are module-level (they pickle by
reference with ``processes=True``).
"""
from __future__ import annotations

import os
import threading

import dask
import dask.array as da
import numpy as np

from .._utils.threads import effective_n_threads, max_threads
from .._utils.validation import check_matrix, check_n_threads, is_dask_array, result_dtype

__all__ = ["as_rows", "block", "client_or_none", "shared", "shared_rows", "task_threads", "warm_up"]


def client_or_none():
    """The ``dask.distributed`` client that computes by default now (the scheduler
    ``dask.base.get_scheduler()`` resolves to), or None (threaded / synchronous scheduler,
    also when a client exists but ``dask.config.set(scheduler="threads")`` is in effect)."""
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - dask without distributed
        return None
    client = getattr(dask.base.get_scheduler(), "__self__", None)
    return client if isinstance(client, Client) else None


def shared(obj):
    """``obj`` as one Delayed graph key that every task reads: scattered once to every
    worker (``broadcast=True``) when the default scheduler is a distributed client, a
    single graph key otherwise.  Never embedded in each task.  (So a graph is computed by
    the scheduler that was the default when it was built.)"""
    client = client_or_none()
    if client is not None:
        return dask.delayed(client.scatter(obj, broadcast=True, hash=False))
    return dask.delayed(obj, pure=False, traverse=False)


def shared_rows(A, name, dtype):
    """A NumPy matrix as a one-chunk dask array over a :func:`shared` key (validated here)."""
    A = check_matrix(A, name, dtype=dtype)
    return da.from_delayed(shared(A), shape=A.shape, dtype=dtype)


def as_rows(A, name, dtype):
    """A 2-D dask array (chunked by rows, one column chunk) of ``dtype``, from a dask array
    (checked lazily: shape and dtype now, values in each task) or a NumPy array (shared)."""
    if not is_dask_array(A):
        return shared_rows(A, name, dtype)
    if A.ndim != 2:
        raise ValueError(f"{name} must be a 2-D dask array (n_samples, n_features); got shape {A.shape} "
                         f"(ndim={A.ndim}). Use {name}.reshape(-1, 1) for a single feature.")
    if A.dtype.kind not in "biuf" or (A.dtype.kind == "f" and A.dtype.itemsize > 8):
        raise TypeError(f"{name} must have a real numeric dtype (float32, float64, int or bool), got dtype "
                        f"{A.dtype}")
    if any(np.isnan(c) for c in A.shape):
        raise ValueError(f"{name} has unknown chunk sizes {A.chunks}; call {name}.compute_chunk_sizes() first")
    if A.shape[0] < 1 or A.shape[1] < 1:
        raise ValueError(f"{name} must have at least 1 sample and 1 feature; got shape {A.shape}")
    if A.dtype != dtype:
        A = A.astype(dtype)
    if len(A.chunks[1]) > 1:
        A = A.rechunk({1: -1})
    return A


def common_dtype(*arrays):
    return result_dtype(*arrays)


def block(A, dtype):
    """A chunk as the kernels want it: C-contiguous, aligned, ``dtype`` (arrays that
    workers unpickle can arrive unaligned; np.require copies only then)."""
    return np.require(A, dtype=dtype, requirements=["C", "A"])


def task_threads(n_threads):
    """Threads one task may use (resolved on the worker, at run time).

    An explicit ``n_threads`` is used by every task.  None: in a ``dask.distributed``
    worker, ``max(1, max_threads() // worker.nthreads)``: the worker runs ``nthreads``
    tasks at once, and its OpenMP limit (the nanny sets OMP_NUM_THREADS=1 by default) is
    shared among them; in a pool thread of the threaded scheduler, 1 (it runs one task
    per core); on the main thread (the synchronous scheduler), all of OpenMP's limit.
    """
    if check_n_threads(n_threads) is not None:
        return effective_n_threads(n_threads)
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        worker = None
    if worker is not None:
        return max(1, max_threads() // max(1, int(worker.state.nthreads)))
    if threading.current_thread() is threading.main_thread():
        return effective_n_threads(None)
    return 1


def _pid(dask_worker=None):
    return os.getpid()


_warmed_clients = set()


def warm_up(client=None):
    """Compile the Numba kernels once on every worker of ``client`` (default: the client
    that computes by default), and on every worker that joins later (a worker plugin), so
    no task pays the JIT.  Returns {worker address: pid}; {} without a client (there the
    first call in the process compiles them).  Entry points called with
    ``backend="numba"`` do this by themselves, once per client."""
    client = client or client_or_none()
    if client is None:
        return {}
    if client.id not in _warmed_clients:
        from ._plugin import NumbaWarmup

        client.register_plugin(NumbaWarmup())
        _warmed_clients.add(client.id)
    return client.run(_pid)


def ensure_warm(backend):
    """:func:`warm_up` once per client when ``backend`` resolves to Numba."""
    from .._config import get_config

    if backend == "numba" or (backend == "auto" and get_config()["backend"] == "numba"):
        client = client_or_none()
        if client is not None and client.id not in _warmed_clients:
            warm_up(client)


def blas_one_thread():
    """A context in which every BLAS runs one thread (task-side NumPy products: the task
    already has its share of the cores)."""
    from .._utils.threads import single_threaded_blas

    return single_threaded_blas()
