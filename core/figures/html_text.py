"""Text inside our own HTML blocks (the stage table, the shape flow): code that wraps between tokens only.

Browsers wrap code at spaces only, or anywhere with ``overflow-wrap: anywhere`` (``batch_fir / st=True``).
``code_breaks`` marks the token boundaries with ``<wbr>`` so that, with ``overflow-wrap: normal``, a long step
wraps like a person would write it on two lines; a single name longer than its column overflows (the table
scrolls sideways) rather than break inside.
"""

from __future__ import annotations

import html
import re

# where code may wrap besides its spaces: after a comma, after an opening bracket that a name, number or string
# follows (``randn(<wbr>32, …``, not ``x[<wbr>:, -1]``), and before the dot of an attribute
# (``outputs<wbr>.hidden_states``, not inside a number like ``1.5``); never inside a name or a number
_CODE_BREAK = re.compile(r"(?<=,)(?=\S)|(?<=[(\[])(?=[\w'\"])|(?<=[\w)\]])(?=\.[A-Za-z_])")


def code_breaks(value: object) -> str:
    """``value`` HTML-escaped, with ``<wbr>`` where code may wrap: between tokens, never inside a name.

    With ``overflow-wrap: normal`` the browser breaks only at spaces and these points, so
    ``outputs.hidden_states[-1]`` becomes ``outputs / .hidden_states[-1]`` at worst, never ``outputs.h / idden``.

    >>> code_breaks("outputs.hidden_states[-1] < f(1.5,2)")
    'outputs<wbr>.hidden_states[-1] &lt; f(<wbr>1.5,<wbr>2)'
    """
    parts = _CODE_BREAK.split(str(value))
    return "<wbr>".join(html.escape(p) for p in parts)


__all__ = ["code_breaks"]
