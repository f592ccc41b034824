"""``PairedViews``: M paired views as one object that scikit-learn's model selection can
split by rows (``GridSearchCV``, ``cross_val_score``, ``train_test_split``)."""
from __future__ import annotations

import numbers

import numpy as np

__all__ = ["PairedViews"]


class PairedViews(tuple):
    """A tuple of M >= 1 arrays with paired rows that also behaves as an (n, sum d_m) sample
    container: ``shape[0]`` is the number of items and indexing with an integer array, a
    list or a boolean mask selects rows of every view at once.  An int or a slice indexes
    the views, as for any tuple, so ``AlignXpert.fit(PairedViews(...))`` works unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from alignxpert_fast import AlignXpert, PairedViews
    >>> rng = np.random.default_rng(0)
    >>> L = rng.standard_normal((90, 3))
    >>> views = PairedViews([L @ rng.standard_normal((3, 6)), L @ rng.standard_normal((3, 5))])
    >>> search = GridSearchCV(AlignXpert(max_iter=20), {"n_components": [2, 3]}, cv=3).fit(views)
    >>> search.best_params_["n_components"] in (2, 3)
    True
    """

    def __new__(cls, views):
        arrays = [np.asarray(v) for v in views]
        if not arrays:
            raise ValueError("PairedViews needs at least one view")
        for m, a in enumerate(arrays):
            if a.ndim != 2:
                raise ValueError(f"views[{m}] must be 2-D (n_samples, n_features_m), got shape {a.shape}")
            if a.shape[0] != arrays[0].shape[0]:
                raise ValueError(f"every view needs the same number of rows (paired items); views[0] has "
                                 f"{arrays[0].shape[0]}, views[{m}] has {a.shape[0]}")
        return super().__new__(cls, arrays)

    @property
    def shape(self):
        """(n_items, total width): what scikit-learn reads to count and split samples."""
        return (int(self[0].shape[0]), int(sum(v.shape[1] for v in self)))

    def __getitem__(self, key):
        if isinstance(key, tuple) and len(key) == 2 and key[1] is Ellipsis:
            key = key[0]  # scikit-learn indexes rows as X[rows, ...]
        elif isinstance(key, (numbers.Integral, slice)):
            return super().__getitem__(key)
        rows = np.asarray(key)
        if rows.dtype != bool and not np.issubdtype(rows.dtype, np.integer):
            raise TypeError(f"PairedViews rows must be selected by integers or a boolean mask, got {rows.dtype}")
        return PairedViews([v[rows] for v in tuple.__iter__(self)])

    def __repr__(self):
        return f"PairedViews(n={self.shape[0]}, widths={[v.shape[1] for v in self]})"
