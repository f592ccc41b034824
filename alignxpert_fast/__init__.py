"""alignxpert_fast: compiled kernels for multimodal embedding alignment.

Blockwise Gram matrices (RBF, polynomial, linear, cosine), Euclidean distances, kernel
reductions that never materialise K, and the normalized MDS stress with its analytic
gradient, each in three backends: C++17/OpenMP ("native"), Numba ("numba") and a NumPy
reference ("reference").  Signatures follow scikit-learn where it has the function.
On top of them, the AlignXpert estimator that aligns two or more modalities.

On the stress kernel, metric MDS (:class:`MDS`).

Layout: ``kernels/`` (the kernel library), ``alignment/`` (the estimator), ``manifold/`` (MDS),
``evaluation/`` (metrics, baselines, demo), ``datasets``, ``cli``.
"""
from . import datasets, metrics
from ._config import config_context, get_config, set_config
from ._show import show_config
from ._version import __version__
from .alignment import AlignXpert, NotFittedError, PairedViews, alignxpert_loss, alignxpert_loss_and_grad
from .kernels import (
    StressCache,
    cosine_similarity,
    euclidean_distances,
    kernel_matvec,
    kernel_operator,
    kernel_row_sums,
    linear_kernel,
    polynomial_kernel,
    rbf_kernel,
    stress,
    stress_and_grad,
)
from .manifold import MDS

__all__ = [
    "__version__",
    "AlignXpert",
    "NotFittedError",
    "PairedViews",
    "alignxpert_loss",
    "alignxpert_loss_and_grad",
    "MDS",
    "config_context",
    "datasets",
    "metrics",
    "cosine_similarity",
    "euclidean_distances",
    "get_config",
    "kernel_matvec",
    "kernel_operator",
    "kernel_row_sums",
    "linear_kernel",
    "polynomial_kernel",
    "rbf_kernel",
    "set_config",
    "show_config",
    "stress",
    "stress_and_grad",
    "StressCache",
]
