"""Optimizers for the AlignXpert objective: full-batch L-BFGS and minibatch Adam.

Both run their outer loop in Python and call the blockwise kernels once per evaluation.
Both take an :class:`alignxpert_fast.objective.AlignXpertObjective` and the initial
projections ``[W_1, ..., W_M]``, and return an :class:`OptimizationResult`.

Common behaviour
----------------
- ``callbacks``: callables ``(iteration, loss, params) -> bool``, called after every
  iteration (``params`` is the current list of W_m: read it, do not modify it); a True
  return stops the run (``stop_reason == "callback"``) and keeps the current state.
- ``verbose``: 0 is silent; >= 1 prints one line every ``print_every`` iterations (the
  loss, each term and the elapsed time) and a final summary.  (tqdm is not a dependency.)
- ``loss_curve`` (one loss per iteration) and ``history`` (per-term lists ``similarity``,
  ``stress``, ``penalty``, as reported by the objective, same length).
- KeyboardInterrupt (Ctrl-C) ends the run and returns the best state seen so far
  (``stop_reason == "interrupted"``); so does a non-finite loss (``"nonfinite"``).
- Reproducible: the same inputs, ``random_state`` and thread count give bit-for-bit the
  same result (the kernels reduce in a fixed block order; sampling uses a seeded
  ``numpy.random.Generator``).
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .._utils.random import check_random_state
from .._utils.validation import check_scalar
from ._lbfgs import NonFiniteEvaluation, lbfgs
from ._params import check_param

__all__ = ["OptimizationResult", "minimize_lbfgs", "minimize_adam"]

TERMS = ("similarity", "stress", "penalty")


@dataclass
class OptimizationResult:
    """What an optimizer returns.

    Attributes
    ----------
    params : list of ndarray (p_m, k), the final (or best, see stop_reason) projections
    loss : float, the objective at ``params`` (Adam: the full-data loss is not computed;
        this is the smoothed minibatch loss)
    n_iter : int, iterations run
    loss_curve : list of float, the loss after each iteration (Adam: minibatch losses)
    history : dict of str -> list of float, per-term values after each iteration
    stop_reason : one of "tol", "max_iter", "callback", "interrupted", "nonfinite",
        "line_search" (L-BFGS could not make progress: usually converged to precision)
    converged : bool, True when stop_reason == "tol"
    message : str, solver message
    time : float, seconds
    """

    params: list
    loss: float
    n_iter: int
    loss_curve: list = field(default_factory=list)
    history: dict = field(default_factory=dict)
    stop_reason: str = "max_iter"
    converged: bool = False
    message: str = ""
    time: float = 0.0


def _check_callbacks(callbacks):
    if callbacks is None:
        return []
    if callable(callbacks):
        return [callbacks]
    cbs = list(callbacks)
    for i, cb in enumerate(cbs):
        if not callable(cb):
            raise TypeError(f"callbacks[{i}] must be callable (iteration, loss, params) -> bool, got {cb!r}")
    return cbs


class _Progress:
    def __init__(self, verbose, print_every, file, name):
        self.verbose = int(verbose or 0)
        self.every = max(1, int(print_every))
        self.file = file
        self.name = name
        self.t0 = time.perf_counter()

    def _p(self, msg):
        print(msg, file=self.file or sys.stdout, flush=True)

    def header(self):
        if self.verbose:
            self._p(f"[{self.name}] {'iter':>6} {'loss':>14} {'similarity':>12} {'stress':>10} {'penalty':>10} "
                    f"{'time(s)':>8}")

    def step(self, it, loss, terms, force=False):
        if self.verbose and (force or it % self.every == 0):
            t = terms or {}
            self._p(f"[{self.name}] {it:>6} {loss:>14.7g} {t.get('similarity', np.nan):>12.6g} "
                    f"{t.get('stress', np.nan):>10.5g} {t.get('penalty', np.nan):>10.5g} "
                    f"{time.perf_counter() - self.t0:>8.2f}")

    def done(self, res):
        if self.verbose:
            self._p(f"[{self.name}] stopped after {res.n_iter} iterations ({res.stop_reason}): loss {res.loss:.7g}, "
                    f"{res.time:.2f} s")


def _record(history, loss_curve, loss, terms):
    loss_curve.append(float(loss))
    for name in TERMS:
        history[name].append(float(terms.get(name, np.nan)) if terms else np.nan)


def _run_callbacks(callbacks, it, loss, params):
    for cb in callbacks:
        if cb(it, loss, params):
            return True
    return False


def minimize_lbfgs(objective, W0, *, max_iter=200, tol=1e-6, callbacks=None, verbose=0,
                   print_every=10, file=None):
    """Full-batch L-BFGS over the stacked W_m (:func:`._lbfgs.lbfgs`: memory 10, strong-Wolfe
    line search; the method of SciPy's L-BFGS-B without bounds, at a fraction of its
    per-iteration cost).

    Parameters
    ----------
    objective : AlignXpertObjective
    W0 : list of arrays (p_m, k)
    max_iter : int >= 1, L-BFGS iterations (and at most ``4 * max_iter + 20`` evaluations)
    tol : float >= 0
        Stop when the relative decrease of the loss is below ``tol`` (SciPy's ``ftol``);
        the gradient tolerance (max |g|) is ``tol * 1e-3``.
    callbacks, verbose, print_every, file : see the module docstring.

    Returns
    -------
    OptimizationResult.  On a normal stop, ``params`` is the final iterate; after an
    interrupt or a non-finite loss, the best evaluated point.
    """
    max_iter = check_param("max_iter", max_iter)
    tol = check_param("tol", tol)
    callbacks = _check_callbacks(callbacks)
    k = W0[0].shape[1]
    x0 = objective.pack(W0)
    prog = _Progress(verbose, print_every, file, "lbfgs")
    best = {"f": np.inf, "x": x0.copy()}
    last = {"x": None, "terms": None}
    loss_curve, history = [], {t: [] for t in TERMS}

    def fun(x):
        f, g = objective.fun(x, k)
        if not np.isfinite(f) or not np.all(np.isfinite(g)):
            raise NonFiniteEvaluation
        last["x"], last["terms"] = x, dict(objective.last_terms)
        if f < best["f"]:
            best["f"], best["x"] = f, x.copy()
        return f, g

    def on_iteration(it, x, f):
        terms = last["terms"] if last["x"] is x else None
        _record(history, loss_curve, f, terms)
        prog.step(it, f, terms)
        return bool(callbacks) and _run_callbacks(callbacks, it, f, objective.unpack(x, k))

    prog.header()
    t0 = time.perf_counter()
    n_iter = 0
    try:
        # a float32 objective keeps its L-BFGS history in float32 (``_lbfgs.lbfgs``)
        hist = np.float32 if np.dtype(getattr(objective, "dtype", np.float64)) == np.float32 else np.float64
        out = lbfgs(fun, x0, max_iter=max_iter, ftol=tol, gtol=tol * 1e-3, max_eval=4 * max_iter + 20,
                    on_iteration=on_iteration, history_dtype=hist)
        x, f, stop, message, n_iter = out.x, out.f, out.status, out.message, out.n_iter
    except KeyboardInterrupt:
        x, f, stop, message = best["x"], best["f"], "interrupted", "KeyboardInterrupt: kept the best state"
        n_iter = len(loss_curve)
    except NonFiniteEvaluation:
        x, f, stop = best["x"], best["f"], "nonfinite"
        message = "non-finite loss or gradient: kept the best state (see the boundedness note in docs/method.rst)"
        n_iter = len(loss_curve)
    result = OptimizationResult(params=objective.unpack(np.asarray(x), k), loss=float(f), n_iter=n_iter,
                                loss_curve=loss_curve, history=history, stop_reason=stop,
                                converged=stop == "tol", message=message, time=time.perf_counter() - t0)
    prog.done(result)
    return result


def minimize_adam(objective, W0, *, max_iter=1000, tol=1e-4, random_state=None, sampler=None, batch_size=1024,
                  learning_rate=0.01, decay_steps=None, beta1=0.9, beta2=0.999, eps=1e-8, n_iter_no_change=5,
                  check_every=50, callbacks=None, verbose=0, print_every=100, file=None):
    """Minibatch Adam on sampled row blocks (for large n).

    Each step draws ``batch_size`` distinct rows uniformly at random (the same rows in
    every modality, since rows are paired) and follows the gradient of the objective
    restricted to those rows.  The gradient estimator:

    - paired similarity and the penalty: unbiased for the full-data gradient;
    - stress: the normalized stress of the sub-sample, a ratio of two unbiased pair-sum
      estimators (consistent, with O(1/batch_size) bias);
    - contrastive similarity: the in-batch InfoNCE with ``batch_size - 1`` negatives
      (the standard minibatch contrastive estimator: unbiased for the expected in-batch
      loss, not for the full n-way loss).

    Step size ``learning_rate / sqrt(1 + t / decay_steps)`` (``decay_steps`` default
    ``max(1, max_iter // 10)``), the usual O(1/sqrt(t)) schedule for Adam.

    Memory: fixed, O(batch_size * (p + d + k)) per modality plus the kernels' scratch,
    whatever n is (the inputs themselves are only indexed).

    Stopping: every ``check_every`` steps, the exponential moving average of the minibatch
    loss is compared with its best value; after ``n_iter_no_change`` checks without a
    relative improvement of at least ``tol`` the run stops (``"tol"``); ``tol=0`` never
    stops early.  ``params`` is the
    state at the best smoothed loss (also after an interrupt).

    Parameters
    ----------
    random_state : None, int or numpy.random.Generator, seeds the row sampling.
    sampler : callable ``(rng, batch_size) -> sorted row indices``, optional
        Replaces the uniform draw (dask views draw from row chunks:
        :class:`alignxpert_fast.dask._views.ChunkSampler`).
    Other parameters as :func:`minimize_lbfgs`, plus Adam's ``beta1``, ``beta2``, ``eps``.
    """
    max_iter = check_param("max_iter", max_iter)
    tol = check_param("tol", tol)
    batch_size = check_param("batch_size", batch_size)
    learning_rate = check_param("learning_rate", learning_rate)
    n_iter_no_change = check_scalar(n_iter_no_change, "n_iter_no_change", lower=1, integer=True)
    check_every = check_scalar(check_every, "check_every", lower=1, integer=True)
    decay = max(1, max_iter // 10) if decay_steps is None else check_scalar(decay_steps, "decay_steps", lower=1)
    callbacks = _check_callbacks(callbacks)
    rng = check_random_state(random_state)
    n = objective.n_samples
    b = min(batch_size, n)
    params = [np.array(W, dtype=np.float64) for W in W0]
    m1 = [np.zeros_like(W) for W in params]
    m2 = [np.zeros_like(W) for W in params]
    prog = _Progress(verbose, print_every, file, "adam")
    loss_curve, history = [], {t: [] for t in TERMS}
    ema = None
    best_ema, best_params, best_it = np.inf, [W.copy() for W in params], 0
    no_change = 0
    stop, message, it = "max_iter", "", 0
    t0 = time.perf_counter()
    prog.header()
    try:
        for it in range(1, max_iter + 1):
            if sampler is not None:
                rows = sampler(rng, b)
            else:
                rows = np.sort(rng.choice(n, size=b, replace=False)) if b < n else None
            f, grads = objective.value_and_grad(params, rows=rows)
            if not np.isfinite(f) or not all(np.all(np.isfinite(g)) for g in grads):
                stop, message = "nonfinite", "non-finite loss or gradient: kept the best state"
                it -= 1
                break
            lr = learning_rate / np.sqrt(1.0 + (it - 1) / decay)
            c1, c2 = 1.0 - beta1**it, 1.0 - beta2**it
            for W, g, a, v in zip(params, grads, m1, m2):
                a *= beta1
                a += (1.0 - beta1) * g
                v *= beta2
                v += (1.0 - beta2) * (g * g)
                W -= lr * (a / c1) / (np.sqrt(v / c2) + eps)
            terms = objective.last_terms
            _record(history, loss_curve, f, terms)
            ema = f if ema is None else 0.9 * ema + 0.1 * f
            prog.step(it, f, terms)
            if callbacks and _run_callbacks(callbacks, it, f, params):
                stop = "callback"
                best_params = [W.copy() for W in params]
                best_ema = ema
                break
            if it % check_every == 0:
                if ema < best_ema - tol * max(abs(best_ema), 1e-12) or not np.isfinite(best_ema):
                    best_ema, best_params, best_it = ema, [W.copy() for W in params], it
                    no_change = 0
                elif tol > 0:  # tol=0: no early stop, run max_iter steps
                    no_change += 1
                    if no_change >= n_iter_no_change:
                        stop = "tol"
                        break
        else:
            # finished max_iter: keep the last state if it is the (smoothed) best
            if ema is not None and ema <= best_ema:
                best_ema, best_params, best_it = ema, [W.copy() for W in params], it
    except KeyboardInterrupt:
        stop, message = "interrupted", "KeyboardInterrupt: kept the best state"
    if not np.isfinite(best_ema):
        best_ema = float(ema) if ema is not None else np.nan
    dtype = objective.dtype
    result = OptimizationResult(params=[np.ascontiguousarray(W, dtype=dtype) for W in best_params],
                                loss=float(best_ema), n_iter=it, loss_curve=loss_curve, history=history,
                                stop_reason=stop, converged=stop == "tol",
                                message=message or f"best smoothed loss at iteration {best_it}",
                                time=time.perf_counter() - t0)
    prog.done(result)
    return result
