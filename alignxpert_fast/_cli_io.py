"""The CLI's file and argument helpers: reading views and models, checking output paths,
one-line argument errors (exit status 2, no traceback)."""
from __future__ import annotations

import argparse
import importlib.util
import os
import zipfile

import numpy as np

from .alignment.estimator import AlignXpert
from .kernels._dispatch import backend_status


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


def _plot_path(path, parser):
    """Check a --plot path before the work starts (suffix, directory, matplotlib)."""
    if path is None:
        return None
    path = _check_output_path(path, parser, "--plot", (".png", ".pdf", ".svg"))
    if importlib.util.find_spec("matplotlib") is None:
        parser.error("--plot needs matplotlib: pip install 'alignxpert_fast[plot]'")
    return path


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
