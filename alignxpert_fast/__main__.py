"""Command line: ``python -m alignxpert_fast`` (console script ``alignxpert-fast``).

Subcommands (``demo`` is the default when none is given)::

    alignxpert-fast [demo] [--n-components K] [--max-iter N] [--quick] ...
    alignxpert-fast fit --views a.npy b.npy [...] --model model.npz [estimator options]
    alignxpert-fast fit --views pairs.npz --model model.npz         # arrays in key order
    alignxpert-fast transform --model model.npz --views a.npy b.npy --output Z.npz
    alignxpert-fast transform --model model.npz --views b.npy --modality 1 --output Zb.npy
    alignxpert-fast evaluate --model model.npz --views a.npy b.npy [--labels y.npy] [--k 10]
    alignxpert-fast bench-kernels [--n 4000] [--dtype float32] [--backends native,numba]
    alignxpert-fast config

``demo`` fits AlignXpert (default settings, then the contrastive mode) on the built-in
digits halves (left / right image halves of scikit-learn's 8x8 digits, a fixed seeded
train/test split) and prints a table against baselines that need nothing extra: PCA per
modality, PCA + orthogonal Procrustes (AlignXpert's initialization) and scikit-learn's
CCA where k allows.  Retrieval is query left -> gallery right on the test split; the
transfer accuracy trains a ridge classifier on the left aligned training features and
tests it on the right aligned test features.  During the demo BLAS is limited to one
thread (the matrices are small; the kernels use ``--n-threads``).

``bench-kernels`` times the kernel core on synthetic paired embeddings against one BLAS
GEMM of the same shape and against scikit-learn, with its agreement to the NumPy
reference.

Errors in the arguments or the input files end the program with a message (exit code 2),
not a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

__all__ = ["main", "run_demo", "bench_kernels", "synthetic_pairs", "pca_projections", "procrustes_align",
           "cca_projections", "evaluate_alignment"]


# ============================================================== baselines and scoring
def pca_projections(X_train, k, X_apply=()):
    """Per-modality PCA by NumPy SVD: returns (Z_train, [Z for X in X_apply]), width k.

    The inputs are scaled as AlignXpert scales them (centered, divided by the root mean
    squared row norm of the training rows).  Uses the top min(k, d, n) principal axes
    (deterministic signs: the largest |entry| of each axis positive) and pads with zero
    columns up to k, so modalities of different widths land in spaces of the same width.
    """
    X_train = np.asarray(X_train, dtype=np.float64)
    mu = X_train.mean(axis=0)
    scale = float(np.sqrt(np.mean(np.sum((X_train - mu) ** 2, axis=1)))) or 1.0
    _, _, Vt = np.linalg.svd(X_train - mu, full_matrices=False)
    r = min(k, Vt.shape[0])
    V = Vt[:r].T
    sign = np.sign(V[np.argmax(np.abs(V), axis=0), np.arange(r)])
    V = V * np.where(sign == 0, 1.0, sign)
    W = np.zeros((X_train.shape[1], k))
    W[:, :r] = V / scale
    return (X_train - mu) @ W, [(np.asarray(X, dtype=np.float64) - mu) @ W for X in X_apply]


def procrustes_align(Z_target, Z_source):
    """Orthogonal R minimizing ||Z_source R - Z_target||_F (both (n, k))."""
    U, _, Vt = np.linalg.svd(np.asarray(Z_source).T @ np.asarray(Z_target))
    return U @ Vt


def cca_projections(X_train, Y_train, k, apply=(), max_iter=500):
    """scikit-learn CCA fitted on the training pairs.

    Returns ``(Zx_train, Zy_train, [(Zx, Zy) for (X, Y) in apply], warning_messages)``;
    raises ImportError without scikit-learn and ValueError when k > min(n, d_x, d_y).
    Warnings raised inside scikit-learn are collected, not emitted.
    """
    from sklearn.cross_decomposition import CCA  # lazy: scikit-learn is optional

    n, dx = np.shape(X_train)
    dy = np.shape(Y_train)[1]
    if k > min(n, dx, dy):
        raise ValueError(f"CCA needs k <= min(n, d_x, d_y) = {min(n, dx, dy)}, got k={k}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cca = CCA(n_components=k, max_iter=max_iter).fit(X_train, Y_train)
        zx, zy = cca.transform(X_train, Y_train)
        applied = [tuple(cca.transform(X, Y)) for X, Y in apply]
    msgs = sorted({f"{w.category.__name__}: {str(w.message).splitlines()[0][:120]}" for w in caught})
    return zx, zy, applied, msgs


def evaluate_alignment(Za_test, Zb_test, y_test=None, Za_train=None, y_train=None, *, metric="cosine", k=10):
    """Retrieval (query a -> gallery b, match = same row), label precision@k and transfer.

    Returns a dict with ``R@1``, ``R@5``, ``R@10``, ``MRR`` and, when labels are given,
    ``P@k`` (label precision at k = min(k, n)) and, with training features too,
    ``transfer`` (ridge classifier trained on Za_train, tested on Zb_test).
    """
    from .metrics import cross_modal_transfer, label_precision_at_k, match_ranks

    ranks = match_ranks(Za_test, Zb_test, metric=metric)
    out = {f"R@{v}": float(np.mean(ranks <= v)) for v in (1, 5, 10)}
    out["MRR"] = float(np.mean(1.0 / ranks))
    if y_test is not None:
        kk = min(int(k), np.shape(Zb_test)[0])
        out["P@k"] = label_precision_at_k(Za_test, y_test, Zb_test, y_test, kk, metric=metric)
        if Za_train is not None and y_train is not None:
            out["transfer"] = cross_modal_transfer(Za_train, y_train, Zb_test, y_test)
    return out


# ============================================================================ demo
def _split(n, test_size, random_state):
    rng = np.random.default_rng(random_state)
    perm = rng.permutation(n)
    n_test = int(round(test_size * n))
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def run_demo(n_components=32, *, test_size=0.3, random_state=0, max_iter=None, n_threads=None, metric="cosine",
             cca=True, contrastive=True, quick=False, file=None):
    """The ``demo`` subcommand as a function; returns the table rows (list of dicts).

    ``quick``: 600 pairs, ``max_iter`` 10 unless given and CCA with 100 iterations (a smoke
    run of a few seconds).
    """
    from threadpoolctl import threadpool_limits

    from .datasets import load_digits_halves
    from .estimator import AlignXpert

    out = file or sys.stdout
    (left, right), labels = load_digits_halves()
    if quick:
        keep = np.sort(np.random.default_rng(random_state).permutation(left.shape[0])[:600])
        left, right, labels = left[keep], right[keep], labels[keep]
        max_iter = 10 if max_iter is None else max_iter
    tr, te = _split(left.shape[0], test_size, random_state)
    k = int(n_components)
    print(f"alignxpert_fast demo: digits halves (scikit-learn's 8x8 digits): left {left.shape[1]} px, right "
          f"{right.shape[1]} px, {left.shape[0]} pairs -> {tr.size} train / {te.size} test (seed {random_state}); "
          f"k={k}", file=out)
    print(f"retrieval: query left -> gallery right on the test split ({te.size} candidates), {metric} scores; "
          f"P@10 = label precision@10; transfer = ridge classifier trained on left train features, tested on "
          f"right test features\n", file=out, flush=True)
    rows, notes = [], []
    Ltr, Rtr, Lte, Rte = left[tr], right[tr], left[te], right[te]
    ytr, yte = labels[tr], labels[te]

    def add(method, kk, Za_tr, Za_te, Zb_te, seconds):
        row = {"method": method, "k": kk, **evaluate_alignment(Za_te, Zb_te, yte, Za_tr, ytr, metric=metric),
               "fit_time": seconds}
        rows.append(row)
        _print_demo_row(row, out, header=len(rows) == 1)

    with threadpool_limits(limits=1, user_api="blas"):
        t0 = time.perf_counter()
        za_tr, (za_te,) = pca_projections(Ltr, k, (Lte,))
        zb_tr, (zb_te,) = pca_projections(Rtr, k, (Rte,))
        t_pca = time.perf_counter() - t0
        add("PCA per modality", k, za_tr, za_te, zb_te, t_pca)
        t0 = time.perf_counter()
        Rot = procrustes_align(za_tr, zb_tr)
        add("PCA + Procrustes", k, za_tr, za_te, zb_te @ Rot, t_pca + time.perf_counter() - t0)
        if cca:
            try:
                t0 = time.perf_counter()
                zx_tr, _, [(zx_te, zy_te)], msgs = cca_projections(Ltr, Rtr, k, [(Lte, Rte)],
                                                                   max_iter=100 if quick else 500)
                add("CCA (scikit-learn)", k, zx_tr, zx_te, zy_te, time.perf_counter() - t0)
                notes += [f"CCA: {m}" for m in msgs]
            except ImportError:
                notes.append("CCA row skipped: scikit-learn is not installed (pip install 'alignxpert_fast[demo]')")
            except ValueError as exc:
                notes.append(f"CCA row skipped: {exc}")
        configs = [("AlignXpert paired", {})]
        if contrastive:
            configs.append(("AlignXpert contrastive", {"similarity": "contrastive"}))
        for name, extra in configs:
            est = AlignXpert(k, random_state=random_state, max_iter=max_iter, n_threads=n_threads, **extra)
            t0 = time.perf_counter()
            est.fit([Ltr, Rtr])
            seconds = time.perf_counter() - t0
            za_tr = est.transform(Ltr, modality=0)
            za_te, zb_te = est.transform([Lte, Rte])
            add(name, k, za_tr, za_te, zb_te, seconds)
            gamma = "" if est.gamma_ is None else f", gamma_={est.gamma_:.3g}"
            notes.append(f"{name}: solver {est.solver_}, {est.n_iter_} iterations (stop: {est.stop_reason_}){gamma}")
    if notes:
        print("", file=out)
        for note in notes:
            print(f"  note: {note}", file=out)
    return rows


def _print_demo_row(row, out, header=False):
    if header:
        print(f"{'method':<24}{'k':>5}{'R@1':>8}{'R@10':>8}{'MRR':>8}{'P@10':>8}{'transfer':>10}{'fit (s)':>9}",
              file=out)
        print("-" * 80, file=out)
    print(f"{row['method']:<24}{row['k']:>5}{row['R@1']:>8.3f}{row['R@10']:>8.3f}{row['MRR']:>8.3f}"
          f"{row['P@k']:>8.3f}{row['transfer']:>10.3f}{row['fit_time']:>9.2f}", file=out, flush=True)


# =================================================================== bench-kernels
def synthetic_pairs(n=4000, d1=768, d2=384, latent=32, noise=0.1, dtype=np.float32, random_state=0):
    """Two modalities sharing a latent structure: X_m = tanh(L A_m) + noise, row i paired.

    Returns (X1 of shape (n, d1), X2 of shape (n, d2)), both ``dtype``.
    """
    rng = np.random.default_rng(random_state)
    L = rng.standard_normal((n, latent))
    out = []
    for d in (d1, d2):
        A = rng.standard_normal((latent, d)) / np.sqrt(latent)
        X = np.tanh(L @ A) + noise * rng.standard_normal((n, d))
        out.append(X.astype(dtype))
    return out[0], out[1]


def _time(fn, repeat=3):
    fn()  # warm-up (numba JIT, page faults)
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench_kernels(n=4000, dtype="float32", backends=("native", "numba"), n_threads=None, file=None):
    """Time every hot path of the kernel core (the ``bench-kernels`` subcommand)."""
    import alignxpert_fast as axf
    from alignxpert_fast._dispatch import backend_status

    out = file or sys.stdout
    dt = np.dtype(dtype)
    X1, X2 = synthetic_pairs(n=n, dtype=dt)
    Z = (X1[:, :128] + 0.05).astype(dt)
    avail = backend_status()
    backends = [b for b in backends if b in avail and avail[b][0]]
    print(f"alignxpert_fast bench-kernels: synthetic paired embeddings X1 {X1.shape}, X2 {X2.shape}, {dt.name}",
          file=out)
    print(f"backends: {', '.join(backends)}; n_threads={n_threads or 'all'}\n", file=out)
    t_gemm = _time(lambda: X1 @ X1.T)
    try:
        from sklearn.metrics import pairwise as skp
    except ImportError:  # scikit-learn is optional at run time
        skp = None
    rows = []
    cases = [
        ("rbf_kernel", lambda b: axf.rbf_kernel(X1, backend=b, n_threads=n_threads),
         (lambda: skp.rbf_kernel(X1)) if skp else None, t_gemm),
        ("euclidean_distances", lambda b: axf.euclidean_distances(X1, backend=b, n_threads=n_threads),
         (lambda: skp.euclidean_distances(X1)) if skp else None, t_gemm),
        ("cosine_similarity", lambda b: axf.cosine_similarity(X1, X1, backend=b, n_threads=n_threads),
         (lambda: skp.cosine_similarity(X1, X1)) if skp else None, t_gemm),
    ]
    V = np.ones((n, 16), dtype=dt)
    t_mv_gemm = _time(lambda: X2 @ X2.T)
    cases.append(("kernel_matvec(rbf, 16 cols)",
                  lambda b: axf.kernel_matvec(X2, X2, V, backend=b, n_threads=n_threads), None, t_mv_gemm))
    t_st_gemm = _time(lambda: (X1 @ X1.T, Z @ Z.T, (X1 @ X1.T) @ Z))
    cases.append(("stress_and_grad (k=128)",
                  lambda b: axf.stress_and_grad(X1, Z, backend=b, n_threads=n_threads), None, t_st_gemm))
    print(f"{'operation':<30}{'impl':<14}{'seconds':>9}{'x GEMM':>8}{'max err vs reference':>22}", file=out)
    small = slice(0, min(n, 600))
    for name, fn, sk, tg in cases:
        print(f"{name:<30}{'GEMM':<14}{tg:>9.3f}{1.0:>8.2f}", file=out)
        if sk is not None:
            ts = _time(sk, repeat=1)
            print(f"{'':<30}{'scikit-learn':<14}{ts:>9.3f}{ts / tg:>8.2f}", file=out)
        for b in backends:
            t = _time(lambda: fn(b))
            err = _agreement(name, b, X1[small], X2[small], Z[small], V[small], axf)
            print(f"{'':<30}{b:<14}{t:>9.3f}{t / tg:>8.2f}{err:>22.2e}", file=out)
        rows.append(name)
    return rows


def _agreement(name, backend, X1, X2, Z, V, axf):
    """Max abs difference between ``backend`` and the reference on a slice of the data."""
    if name.startswith("rbf"):
        f = lambda b: axf.rbf_kernel(X1, backend=b)  # noqa: E731
    elif name.startswith("euclid"):
        f = lambda b: axf.euclidean_distances(X1, backend=b)  # noqa: E731
    elif name.startswith("cosine"):
        f = lambda b: axf.cosine_similarity(X1, X1, backend=b)  # noqa: E731
    elif name.startswith("kernel_matvec"):
        f = lambda b: axf.kernel_matvec(X2, X2, V, backend=b) / X2.shape[0]  # noqa: E731
    else:
        f = lambda b: axf.stress_and_grad(X1, Z, backend=b)[1]  # noqa: E731
    return float(np.max(np.abs(f(backend).astype(np.float64) - f("reference").astype(np.float64))))


# ======================================================================= file I/O
def _load_arrays(paths, parser, flag="--views"):
    """Arrays from .npy files (one each) or from one .npz (in the order of its keys).

    Returns (arrays, names); names are the .npz keys, or None for .npy inputs.
    """
    paths = [str(p) for p in paths]
    for p in paths:
        if not os.path.isfile(p):
            parser.error(f"{flag}: file not found: {p}")
    npz = [p for p in paths if p.endswith(".npz")]
    if npz and len(paths) > 1:
        parser.error(f"{flag}: give one .npz file (its arrays, in key order, are the views) or one .npy file "
                     f"per view, not a mix or several .npz files: {' '.join(paths)}")
    try:
        if npz:
            with np.load(paths[0], allow_pickle=False) as data:
                names = list(data.files)
                arrays = [data[key] for key in names]
            if not arrays:
                parser.error(f"{flag}: {paths[0]} holds no arrays")
            return arrays, names
        return [np.load(p, allow_pickle=False) for p in paths], None
    except (OSError, ValueError, EOFError) as exc:
        parser.error(f"{flag}: cannot read {' '.join(paths)} as NumPy .npy/.npz (no pickles): {exc}")


def _check_output_path(path, parser, flag, suffixes):
    path = str(path)
    if not path.endswith(suffixes):
        parser.error(f"{flag} must end with {' or '.join(suffixes)}, got {path!r}")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        parser.error(f"{flag}: directory does not exist: {parent}")
    return path


def _load_model(path, parser):
    from .estimator import AlignXpert

    if not os.path.isfile(str(path)):
        parser.error(f"--model: file not found: {path}")
    try:
        return AlignXpert.load(path)
    except (OSError, ValueError, KeyError, EOFError) as exc:
        parser.error(f"--model: cannot load {path} as an AlignXpert model: {exc}")


# ===================================================================== arg parsing
def _parse_positive_int(text, expected="a positive int"):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {expected}, got {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be {expected}, got {v}")
    return v


def _n_components_type(text):
    return text if text == "auto" else _parse_positive_int(text, "a positive int or 'auto'")


def _positive_int(text):
    return _parse_positive_int(text)


def _nonneg_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not v >= 0 or not np.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return v


def _positive_float(text):
    v = _nonneg_float(text)
    if v == 0:
        raise argparse.ArgumentTypeError("must be > 0, got 0")
    return v


def _fraction(text):
    v = _positive_float(text)
    if not v < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {text}")
    return v


def _n_threads_type(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a non-zero int (negative counts back from all cores), "
                                         f"got {text!r}") from None
    if v == 0:
        raise argparse.ArgumentTypeError("must be non-zero (negative values count back from all cores)")
    return v


def _build_parser():
    from .estimator import SOLVERS
    from .metrics import METRICS
    from .objective import SIMILARITIES, SIMILARITY_KERNELS

    parser = argparse.ArgumentParser(
        prog="alignxpert-fast",
        description="AlignXpert: align paired embeddings of two or more modalities in a shared space "
                    "(kernel similarity + stress). Default command: demo.",
    )
    sub = parser.add_subparsers(dest="command", metavar="{demo,fit,transform,evaluate,bench-kernels,config}")

    p = sub.add_parser("demo", help="fit on the built-in digits halves and compare with baselines (default)",
                       description="Fit AlignXpert (default settings, then contrastive) on the digits halves and "
                                   "print retrieval / transfer / fit time against PCA, PCA+Procrustes and CCA.")
    p.add_argument("--n-components", type=_positive_int, default=32, help="shared dimension k (default 32)")
    p.add_argument("--test-size", type=_fraction, default=0.3, help="held-out share of the pairs (default 0.3)")
    p.add_argument("--random-state", type=int, default=0, help="seed of the split and the fits (default 0)")
    p.add_argument("--max-iter", type=_positive_int, default=None, help="AlignXpert iterations (default: its own)")
    p.add_argument("--n-threads", type=_n_threads_type, default=None, help="kernel threads (default: all cores)")
    p.add_argument("--metric", choices=METRICS, default="cosine", help="retrieval score (default cosine)")
    p.add_argument("--no-cca", action="store_true", help="skip the scikit-learn CCA baseline")
    p.add_argument("--no-contrastive", action="store_true", help="skip the contrastive AlignXpert row")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 600 pairs, 10 iterations unless --max-iter, CCA with 100 iterations")

    p = sub.add_parser("fit", help="fit a model on paired views (.npy files or one .npz) and save it",
                       description="Fit AlignXpert on paired views and save the model (.npz, no pickle).")
    p.add_argument("--views", nargs="+", required=True, metavar="FILE",
                   help="one .npy file per modality (rows paired), or one .npz whose arrays (in key order) "
                        "are the modalities")
    p.add_argument("--model", required=True, help="output model file (.npz)")
    p.add_argument("--n-components", type=_n_components_type, default=32, help="k: positive int or 'auto'")
    p.add_argument("--similarity", choices=SIMILARITIES, default="paired")
    p.add_argument("--kernel", choices=SIMILARITY_KERNELS, default="rbf", help="similarity kernel")
    p.add_argument("--gamma", type=_positive_float, default=None, help="similarity kernel gamma (default: scaled)")
    p.add_argument("--temperature", type=_positive_float, default=0.1, help="contrastive temperature")
    p.add_argument("--alpha", type=_nonneg_float, default=0.1, help="stress weight (default 0.1)")
    p.add_argument("--lam", type=_nonneg_float, default=1e-3, help="||W||^2 weight (default 1e-3)")
    p.add_argument("--feature-map", choices=("linear", "rbf", "poly"), default="linear")
    p.add_argument("--n-landmarks", type=_positive_int, default=None, help="Nystroem landmarks")
    p.add_argument("--solver", choices=SOLVERS, default="auto")
    p.add_argument("--max-iter", type=_positive_int, default=None)
    p.add_argument("--tol", type=_nonneg_float, default=None)
    p.add_argument("--batch-size", type=_positive_int, default=1024, help="Adam minibatch rows")
    p.add_argument("--random-state", type=int, default=None)
    p.add_argument("--n-threads", type=_n_threads_type, default=None)
    p.add_argument("--verbose", type=int, nargs="?", const=1, default=0, help="0, 1 or 2 (bare flag: 1)")

    p = sub.add_parser("transform", help="project views with a saved model",
                       description="Project views into the shared space with a saved model.")
    p.add_argument("--model", required=True, help="model file written by 'fit'")
    p.add_argument("--views", nargs="+", required=True, metavar="FILE",
                   help="one .npy per modality (or one .npz); with --modality, exactly one array")
    p.add_argument("--modality", type=int, default=None, help="index of the modality of a single view")
    p.add_argument("--output", "-o", required=True,
                   help=".npz (keys: the input .npz keys, else Z_0, Z_1, ...) or .npy (one output only)")
    p.add_argument("--n-threads", type=_n_threads_type, default=None)

    p = sub.add_parser("evaluate", help="cross-modal retrieval metrics of a saved model on paired views",
                       description="Recall@1/5/10, MRR and label precision@k for every ordered pair of modalities.")
    p.add_argument("--model", required=True, help="model file written by 'fit'")
    p.add_argument("--views", nargs="+", required=True, metavar="FILE", help="paired views (.npy files or one .npz)")
    p.add_argument("--labels", default=None, help="optional .npy of one label per row (for precision@k)")
    p.add_argument("--k", type=_positive_int, default=10, help="k of label precision@k (default 10)")
    p.add_argument("--metric", choices=METRICS, default="cosine", help="retrieval score (default cosine)")
    p.add_argument("--n-threads", type=_n_threads_type, default=None)

    p = sub.add_parser("bench-kernels", help="time every kernel hot path on synthetic data",
                       description="Time the kernel core against one GEMM and scikit-learn.")
    p.add_argument("--n", type=int, default=4000, help="number of paired rows (default 4000)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--n-threads", type=_n_threads_type, default=None)
    p.add_argument("--backends", default="native,numba", help="comma-separated (native,numba,reference)")

    sub.add_parser("config", help="print show_config()")
    return parser, sub


# ======================================================================= commands
def _cmd_demo(args, parser):
    try:
        run_demo(args.n_components, test_size=args.test_size, random_state=args.random_state,
                 max_iter=args.max_iter, n_threads=args.n_threads, metric=args.metric, cca=not args.no_cca,
                 contrastive=not args.no_contrastive, quick=args.quick)
    except ImportError as exc:  # scikit-learn ships the digits data
        parser.error(f"demo: {exc}. The demo's extra installs it: pip install 'alignxpert_fast[demo]'")
    return 0


def _cmd_fit(args, parser):
    from .estimator import AlignXpert

    est = AlignXpert(args.n_components, similarity=args.similarity, kernel=args.kernel, gamma=args.gamma,
                     temperature=args.temperature, alpha=args.alpha, lam=args.lam, feature_map=args.feature_map,
                     n_landmarks=args.n_landmarks, solver=args.solver, max_iter=args.max_iter, tol=args.tol,
                     batch_size=args.batch_size, random_state=args.random_state, verbose=args.verbose,
                     n_threads=args.n_threads)
    try:
        est._check_params()
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    model = _check_output_path(args.model, parser, "--model", (".npz",))
    views, names = _load_arrays(args.views, parser)
    if len(views) < 2:
        parser.error(f"--views: need at least two modalities (paired arrays), got {len(views)}")
    try:
        est.fit(views)
    except (ValueError, TypeError) as exc:
        parser.error(f"fit: {exc}")
    path = est.save(model)
    shapes = ", ".join(f"{(names[m] + ' ') if names else ''}{v.shape[0]}x{v.shape[1]}" for m, v in enumerate(views))
    print(f"fitted AlignXpert on {len(views)} views ({shapes}): k={est.n_components_}, solver {est.solver_}, "
          f"{est.n_iter_} iterations (stop: {est.stop_reason_}), loss {est.loss_:.6g}, {est.fit_time_:.2f} s")
    if est.dimension_search_:
        print("dimension search (held-out):")
        print(f"  {'k':>6}{'score(MRR)':>12}{'similarity':>12}{'stress':>10}{'time(s)':>9}")
        for r in est.dimension_search_:
            print(f"  {r['k']:>6}{r['score']:>12.4f}{r['similarity']:>12.4f}{r['stress']:>10.4f}{r['time']:>9.2f}")
    print(f"saved model to {path}")
    return 0


def _cmd_transform(args, parser):
    est = _load_model(args.model, parser)
    if args.n_threads is not None:
        est.n_threads = args.n_threads
    views, names = _load_arrays(args.views, parser)
    out = _check_output_path(args.output, parser, "--output", (".npy", ".npz"))
    try:
        if args.modality is not None:
            if len(views) != 1:
                parser.error(f"--modality needs exactly one view array, got {len(views)}")
            Zs = [est.transform(views[0], modality=args.modality)]
        else:
            Zs = est.transform(views)
    except (ValueError, TypeError) as exc:
        parser.error(f"transform: {exc}")
    if out.endswith(".npy"):
        if len(Zs) != 1:
            parser.error(f"--output: {len(Zs)} projected views need a .npz output, got {out!r} "
                         f"(or transform one view with --modality)")
        np.save(out, Zs[0])
    else:
        keys = names if names else ([f"Z_{args.modality}"] if args.modality is not None
                                    else [f"Z_{m}" for m in range(len(Zs))])
        np.savez(out, **dict(zip(keys, Zs)))
    print(f"wrote {', '.join(str(Z.shape) for Z in Zs)} to {out}")
    return 0


def _cmd_evaluate(args, parser):
    est = _load_model(args.model, parser)
    if args.n_threads is not None:
        est.n_threads = args.n_threads
    views, names = _load_arrays(args.views, parser)
    labels = None
    if args.labels is not None:
        arrays, _ = _load_arrays([args.labels], parser, flag="--labels")
        if len(arrays) != 1:
            parser.error(f"--labels must hold one array (a .npy, or a .npz with one entry), got {len(arrays)}")
        labels = arrays[0]
    n = {v.shape[0] if np.ndim(v) == 2 else None for v in views}
    if len(n) != 1 or None in n:
        parser.error(f"--views: evaluate needs paired 2-D views with the same number of rows, got shapes "
                     f"{[np.shape(v) for v in views]}")
    n = n.pop()
    if labels is not None and (labels.ndim != 1 or labels.shape[0] != n):
        parser.error(f"--labels must be a 1-D array with one label per row ({n}), got shape {labels.shape}")
    try:
        Zs = est.transform(views)
    except (ValueError, TypeError) as exc:
        parser.error(f"evaluate: {exc}")
    label = [names[m] if names else str(m) for m in range(len(Zs))]
    kk = min(args.k, n)
    print(f"evaluate: {n} paired rows, {len(Zs)} modalities, k={est.n_components_}, {args.metric} scores"
          f"{'' if labels is None else f'; label precision@{kk}'}")
    head = f"{'query -> gallery':<24}{'R@1':>8}{'R@5':>8}{'R@10':>8}{'MRR':>8}"
    if labels is not None:
        head += f"{f'P@{kk}':>8}"
    print(head)
    print("-" * len(head))
    for a in range(len(Zs)):
        for b in range(len(Zs)):
            if a == b:
                continue
            r = evaluate_alignment(Zs[a], Zs[b], labels, metric=args.metric, k=kk)
            line = f"{label[a] + ' -> ' + label[b]:<24}{r['R@1']:>8.3f}{r['R@5']:>8.3f}{r['R@10']:>8.3f}" \
                   f"{r['MRR']:>8.3f}"
            if labels is not None:
                line += f"{r['P@k']:>8.3f}"
            print(line)
    return 0


def _cmd_bench_kernels(args, parser):
    if args.n < 2:
        parser.error(f"--n must be >= 2, got {args.n}")
    bench_kernels(n=args.n, dtype=args.dtype, backends=tuple(args.backends.split(",")), n_threads=args.n_threads)
    return 0


def main(argv=None):
    """Entry point of ``python -m alignxpert_fast`` and ``alignxpert-fast``; returns 0."""
    parser, sub = _build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["demo"] + argv  # demo is the default command
    args = parser.parse_args(argv)
    if args.command == "config":
        import alignxpert_fast

        alignxpert_fast.show_config()
        return 0
    sp = sub.choices[args.command]  # errors below print this subcommand's usage
    return {"demo": _cmd_demo, "fit": _cmd_fit, "transform": _cmd_transform, "evaluate": _cmd_evaluate,
            "bench-kernels": _cmd_bench_kernels}[args.command](args, sp)


if __name__ == "__main__":
    sys.exit(main())
