"""``get_params`` / ``set_params`` / ``repr`` in the scikit-learn way, and the
not-fitted error."""
from __future__ import annotations

import inspect

__all__ = ["NotFittedError", "ParamsMixin"]


class NotFittedError(ValueError, AttributeError):
    """Raised when a method needs a fitted estimator (as scikit-learn's NotFittedError)."""


class ParamsMixin:
    """get_params / set_params / repr in the scikit-learn way (no sklearn import)."""

    @classmethod
    def _get_param_names(cls):
        sig = inspect.signature(cls.__init__)
        names = []
        for p in sig.parameters.values():
            if p.name == "self":
                continue
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise RuntimeError(f"{cls.__name__}.__init__ must not take *args or **kwargs")
            names.append(p.name)
        return sorted(names)

    def get_params(self, deep=True):
        """Constructor parameters as a dict (``deep`` is accepted for compatibility)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params):
        """Set constructor parameters; unknown names raise ValueError.  Returns self."""
        valid = self._get_param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"Invalid parameter {key!r} for estimator {type(self).__name__}. "
                    f"Valid parameters are: {valid!r}."
                )
            setattr(self, key, value)
        return self

    def __repr__(self):
        sig = inspect.signature(type(self).__init__)
        parts = []
        for p in sig.parameters.values():
            if p.name == "self":
                continue
            value = getattr(self, p.name)
            default = p.default
            same = value is default
            if not same:
                try:
                    same = bool(value == default) and type(value) is type(default)
                except Exception:  # arrays and the like
                    same = False
            if not same:
                parts.append(f"{p.name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"
