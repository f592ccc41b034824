"""The alignment application: the AlignXpert estimator and what it is built from.

::

    estimator.py         AlignXpert: parameters, fit orchestration, transform
      init.py            scaling, the PCA + Procrustes start, the gamma rule
      feature_maps.py    identity / Nystroem maps Phi_m
      objective.py       the loss and its analytic gradient
        similarity.py    paired / contrastive terms (Gram blocks via the kernel backend seam)
        rowmap.py        rows computed on demand for minibatches
      optim.py           L-BFGS and Adam with callbacks, progress, interrupts
      dimension_search.py, persistence.py, views.py (PairedViews for model selection)
    _params.py           every parameter's constraint, once
"""
from .estimator import AlignXpert, NotFittedError
from .objective import AlignXpertObjective, alignxpert_loss, alignxpert_loss_and_grad
from .rowmap import RowMap
from .similarity import contrastive_similarity_and_grad, paired_similarity_and_grad
from .views import PairedViews

__all__ = [
    "AlignXpert",
    "AlignXpertObjective",
    "NotFittedError",
    "PairedViews",
    "RowMap",
    "alignxpert_loss",
    "alignxpert_loss_and_grad",
    "contrastive_similarity_and_grad",
    "paired_similarity_and_grad",
]
