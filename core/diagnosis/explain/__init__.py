"""Plain-language explanations of PyTorch shape errors.

``explain(message)`` takes one error message or a whole pasted traceback, finds the last exception
line and returns an :class:`Explanation`: a category (``kind``), what went wrong written with the
numbers parsed out of the message, and a concrete fix in PyTorch terms.

    >>> e = explain("RuntimeError: shape '[32, 16, 6000]' is invalid for input of size 3145728")
    >>> e.kind, e.numbers["fitting_last_dim"]
    ('reshape_size', 6144)

The optional ``context`` is what the trace engine knows about the failing step::

    {"input_shape": (32, 128, 768), "input_axes": ("batch", "tokens", "hidden"),
     "step": "conv1d", "layer": {"kind": "conv1d", "params": {"in_channels": 768}}}

and makes the answer more specific (axis names, which dim to move where).

Layout: ``api.py`` (explain, explain_exception), ``rules.py`` (the table: kind, pattern, handler — one row per
wording), ``kinds.py`` (the kinds and their titles), ``record.py`` (Explanation), ``context.py`` (what a handler is
given), ``causes.py`` (a likely cause and the factoring that tells causes apart) and one module of handlers per family
of errors (conv, recurrent, states, packing, matmul, broadcasting, reshape, dims, indexing, positions, joining, norms,
losses, objects, constructors, einops_errors).
"""

from core.diagnosis.explain.api import MAX_SCAN_CHARS, explain, explain_exception
from core.diagnosis.explain.kinds import KINDS
from core.diagnosis.explain.record import Explanation

__all__ = ["KINDS", "MAX_SCAN_CHARS", "Explanation", "explain", "explain_exception"]
