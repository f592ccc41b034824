"""Helpers every layer uses: argument validation, thread resolution, random state.

Nothing here imports from ``alignxpert_fast.kernels`` or ``alignxpert_fast.alignment``.
"""
