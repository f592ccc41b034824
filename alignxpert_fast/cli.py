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

``demo`` fits AlignXpert (default settings, then the paper's paired formulation) on the built-in
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

import numpy as np

from ._show import show_config
from .alignment._params import (FEATURE_MAPS, INITS, SIMILARITIES, SIMILARITY_KERNELS, SOLVERS, STRESS_KINDS,
                                check_param)
from .alignment.estimator import AlignXpert
from .evaluation.bench import bench_kernels
from .evaluation.demo import run_demo
from .evaluation.metrics import METRICS
from .evaluation.scoring import evaluate_alignment
from ._cli_io import _Parser, _check_output_path, _load_arrays, _load_model, _parse_backends, _plot_path, _write

__all__ = ["main"]


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
                       description="Fit AlignXpert (default settings, then the paper's paired mode) on the digits halves and "
                                   "print retrieval / transfer / fit time against PCA, PCA+Procrustes and CCA.")
    p.add_argument("--n-components", type=_positive_int, default=32, help="shared dimension k (default 32)")
    p.add_argument("--test-size", type=_param_type("validation_fraction"), default=0.3,
                   help="held-out share of the pairs (default 0.3)")
    p.add_argument("--random-state", type=int, default=0, help="seed of the split and the fits (default 0)")
    p.add_argument("--max-iter", type=_positive_int, default=None, help="AlignXpert iterations (default: its own)")
    p.add_argument("--n-threads", type=_n_threads_type, default=None, help="kernel threads (default: all cores)")
    p.add_argument("--metric", choices=METRICS, default="cosine", help="retrieval score (default cosine)")
    p.add_argument("--no-cca", action="store_true", help="skip the scikit-learn CCA baseline")
    p.add_argument("--no-contrastive", action="store_true", help="skip the paper's paired AlignXpert row")
    p.add_argument("--verbose", action="store_true", help="print the fits' progress")
    p.add_argument("--plot", default=None, metavar="FILE.png",
                   help="write the recall@k curves of every method to this image (needs matplotlib)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 600 pairs, 10 iterations unless --max-iter, CCA with 100 iterations")

    p = sub.add_parser("fit", help="fit a model on paired views (.npy files or one .npz) and save it",
                       description="Fit AlignXpert on paired views and save the model (.npz, no pickle).")
    p.add_argument("--views", nargs="+", required=True, metavar="FILE",
                   help="one .npy file per modality (rows paired), or one .npz whose arrays (in key order) "
                        "are the modalities")
    p.add_argument("--model", required=True, help="output model file (.npz)")
    p.add_argument("--n-components", type=_n_components_type, default=32, help="k: positive int or 'auto'")
    d = AlignXpert().get_params()  # the CLI's defaults are the estimator's
    p.add_argument("--similarity", choices=SIMILARITIES, default=d["similarity"])
    p.add_argument("--kernel", choices=SIMILARITY_KERNELS, default=d["kernel"], help="similarity kernel")
    p.add_argument("--gamma", type=_param_type("gamma"), default=None, help="similarity kernel gamma (default: scaled)")
    p.add_argument("--temperature", type=_param_type("temperature"), default=d["temperature"],
                   help=f"contrastive temperature (default {d['temperature']})")
    p.add_argument("--alpha", type=_param_type("alpha"), default=d["alpha"], help=f"stress weight (default {d['alpha']})")
    p.add_argument("--lam", type=_param_type("lam"), default=d["lam"], help=f"||W||^2 weight (default {d['lam']})")
    p.add_argument("--stress", choices=STRESS_KINDS, default=d["stress"], help="the paper's stress, its square, or the relative stress (near pairs weigh as much as far ones)")
    p.add_argument("--feature-map", choices=FEATURE_MAPS, default=d["feature_map"])
    p.add_argument("--init", choices=INITS, default=d["init"], help=f"start (default {d['init']})")
    p.add_argument("--no-early-stopping", dest="early_stopping", action="store_false",
                   help="fit on all pairs to convergence (default: early stopping on held-out MRR)")
    p.add_argument("--n-landmarks", type=_positive_int, default=None, help="Nystroem landmarks")
    p.add_argument("--solver", choices=SOLVERS, default="auto")
    p.add_argument("--max-iter", type=_positive_int, default=None)
    p.add_argument("--tol", type=_param_type("tol"), default=None)
    p.add_argument("--batch-size", type=_param_type("batch_size", int), default=1024, help="Adam minibatch rows")
    p.add_argument("--random-state", type=int, default=None)
    p.add_argument("--n-threads", type=_n_threads_type, default=None)
    p.add_argument("--verbose", type=int, nargs="?", const=1, default=0, help="0, 1 or 2 (bare flag: 1)")
    p.add_argument("--plot", default=None, metavar="FILE.png",
                   help="write the loss curve with its terms (and the dimension scan with --n-components auto) "
                        "to this image (needs matplotlib)")

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
                 contrastive=not args.no_contrastive, quick=args.quick, verbose=int(args.verbose),
                 plot=_plot_path(args.plot, parser))
    except ImportError as exc:  # scikit-learn ships the digits data
        parser.error(f"demo: {exc}. The demo's extra installs it: pip install 'alignxpert_fast[demo]'")
    return 0


def _cmd_fit(args, parser):
    est = AlignXpert(args.n_components, similarity=args.similarity, kernel=args.kernel, gamma=args.gamma,
                     temperature=args.temperature, alpha=args.alpha, lam=args.lam, stress=args.stress,
                     feature_map=args.feature_map, init=args.init, early_stopping=args.early_stopping,
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
    plot = _plot_path(args.plot, parser)
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
    if plot is not None:
        from .evaluation.plots import plot_dimension_search, plot_loss_curve

        fig = plot_loss_curve(est)
        fig.savefig(plot, dpi=120)
        print(f"loss curve written to {plot}")
        if est.dimension_search_:
            root, ext = os.path.splitext(plot)
            scan = f"{root}_dimension_search{ext}"
            plot_dimension_search(est).savefig(scan, dpi=120)
            print(f"dimension scan written to {scan}")
    return 0


def _model_and_views(args, parser):
    """The saved model (with ``--n-threads`` applied) and the ``--views`` arrays."""
    est = _load_model(args.model, parser)
    if args.n_threads is not None:
        est.n_threads = args.n_threads
    views, names = _load_arrays(args.views, parser)
    return est, views, names


def _cmd_transform(args, parser):
    est, views, names = _model_and_views(args, parser)
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
    est, views, names = _model_and_views(args, parser)
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
