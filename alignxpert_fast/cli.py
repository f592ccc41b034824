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

Errors in the arguments or the input files end the program with one line on stderr
(``alignxpert-fast <command>: error: ...``) and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
import zipfile

import numpy as np

from ._show import show_config
from .alignment._params import FEATURE_MAPS, SIMILARITIES, SIMILARITY_KERNELS, SOLVERS, check_param
from .alignment.estimator import AlignXpert
from .evaluation.bench import bench_kernels
from .evaluation.demo import run_demo
from .evaluation.metrics import METRICS
from .evaluation.scoring import evaluate_alignment
from .kernels._dispatch import backend_status

__all__ = ["main"]


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
            with open(paths[0], "rb") as fh, np.load(fh, allow_pickle=False) as data:  # our handle: no leak
                names = list(data.files)
                arrays = [data[key] for key in names]
            if not arrays:
                parser.error(f"{flag}: {paths[0]} holds no arrays")
            return arrays, names
        arrays = []
        for p in paths:
            with open(p, "rb") as fh:
                arrays.append(np.load(fh, allow_pickle=False))
        return arrays, None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        parser.error(f"{flag}: cannot read {' '.join(paths)} as NumPy .npy/.npz (no pickles): {exc}")


def _check_output_path(path, parser, flag, suffixes):
    path = str(path)
    if not path.endswith(suffixes):
        parser.error(f"{flag} must end with {' or '.join(suffixes)}, got {path!r}")
    if os.path.isdir(path):
        parser.error(f"{flag}: {path} is a directory; give a file name")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        parser.error(f"{flag}: directory does not exist: {parent}")
    if not os.access(parent, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        parser.error(f"{flag}: cannot write to {path} (permission denied)")
    return path


def _write(parser, flag, path, write):
    """Run ``write()``; an OSError (disk full, permissions) becomes one error line."""
    try:
        return write()
    except OSError as exc:
        parser.error(f"{flag}: cannot write {path}: {exc.strerror or exc}")


def _load_model(path, parser):
    if not os.path.isfile(str(path)):
        parser.error(f"--model: file not found: {path}")
    try:
        return AlignXpert.load(path)
    except (OSError, ValueError) as exc:  # load raises ValueError for every damaged or foreign file
        parser.error(f"--model: cannot load {path} as an AlignXpert model: {exc}")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``prog: error: message`` on stderr, exit status 2."""

    def error(self, message):
        message = " ".join(str(message).split())
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parse_backends(text, parser):
    names = [b.strip() for b in text.split(",")]
    if not text.strip() or not all(names):
        parser.error(f"--backends must be a comma-separated list of native, numba, reference; got {text!r}")
    status = backend_status()
    for b in names:
        if b not in status:
            parser.error(f"--backends: unknown backend {b!r}; choose from {', '.join(status)}")
        if not status[b][0]:
            parser.error(f"--backends: backend {b!r} is not available: {status[b][1]}")
    return tuple(dict.fromkeys(names))


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


def _param_type(name, convert=float):
    """An argparse type that converts, then checks with the estimator's rule for ``name``."""

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        try:
            return check_param(name, value)
        except (ValueError, TypeError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name  # argparse names the type in its messages
    return parse


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
    parser = _Parser(
        prog="alignxpert-fast",
        description="AlignXpert: align paired embeddings of two or more modalities in a shared space "
                    "(kernel similarity + stress). Default command: demo.",
    )
    sub = parser.add_subparsers(dest="command", metavar="{demo,fit,transform,evaluate,bench-kernels,config}")

    p = sub.add_parser("demo", help="fit on the built-in digits halves and compare with baselines (default)",
                       description="Fit AlignXpert (default settings, then contrastive) on the digits halves and "
                                   "print retrieval / transfer / fit time against PCA, PCA+Procrustes and CCA.")
    p.add_argument("--n-components", type=_positive_int, default=32, help="shared dimension k (default 32)")
    p.add_argument("--test-size", type=_param_type("validation_fraction"), default=0.3,
                   help="held-out share of the pairs (default 0.3)")
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
    p.add_argument("--gamma", type=_param_type("gamma"), default=None, help="similarity kernel gamma (default: scaled)")
    p.add_argument("--temperature", type=_param_type("temperature"), default=0.1, help="contrastive temperature")
    p.add_argument("--alpha", type=_param_type("alpha"), default=0.1, help="stress weight (default 0.1)")
    p.add_argument("--lam", type=_param_type("lam"), default=1e-3, help="||W||^2 weight (default 1e-3)")
    p.add_argument("--feature-map", choices=FEATURE_MAPS, default="linear")
    p.add_argument("--n-landmarks", type=_positive_int, default=None, help="Nystroem landmarks")
    p.add_argument("--solver", choices=SOLVERS, default="auto")
    p.add_argument("--max-iter", type=_positive_int, default=None)
    p.add_argument("--tol", type=_param_type("tol"), default=None)
    p.add_argument("--batch-size", type=_param_type("batch_size", int), default=1024, help="Adam minibatch rows")
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
    path = _write(parser, "--model", model, lambda: est.save(model))
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
        _write(parser, "--output", out, lambda: np.save(out, Zs[0]))
    else:
        keys = names if names else ([f"Z_{args.modality}"] if args.modality is not None
                                    else [f"Z_{m}" for m in range(len(Zs))])
        _write(parser, "--output", out, lambda: np.savez(out, **dict(zip(keys, Zs))))
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
    backends = _parse_backends(args.backends, parser)
    bench_kernels(n=args.n, dtype=args.dtype, backends=backends, n_threads=args.n_threads)
    return 0


def main(argv=None):
    """Entry point of ``python -m alignxpert_fast`` and ``alignxpert-fast``; returns 0."""
    parser, sub = _build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["demo"] + argv  # demo is the default command
    args = parser.parse_args(argv)
    if args.command == "config":
        show_config()
        return 0
    sp = sub.choices[args.command]  # errors below print this subcommand's usage
    return {"demo": _cmd_demo, "fit": _cmd_fit, "transform": _cmd_transform, "evaluate": _cmd_evaluate,
            "bench-kernels": _cmd_bench_kernels}[args.command](args, sp)


if __name__ == "__main__":
    sys.exit(main())
