"""Facts about the LSTM/GRU a step reads from, and the right "final state per text" for its layout.

An LSTM/GRU returns ``output`` and ``h_n``:

- ``output`` is (batch, seq, D·H) with batch_first, else (seq, batch, D·H); with D = 2 (bidirectional) its last dim
  is the forward half ``[:H]`` then the backward half ``[H:]``. The backward direction reads the text from the end,
  so at the last position it has read one token, and its final state sits at position 0.
- ``h_n`` is (num_layers·D, batch, H) whatever batch_first says; entry ``2·l`` is layer l's forward direction and
  ``2·l + 1`` its backward direction, so ``h_n[-2]`` / ``h_n[-1]`` are the last layer's forward / backward states
  (PyTorch docs, torch.nn.LSTM "Outputs").
- On a padded batch that was not packed, the forward direction reads the [PAD] tokens after each short text: its
  state at the last position (and ``h_n``) is the state after the padding. Each text's own last real token is at
  ``lengths - 1``.

    >>> final_state(RnnFacts("LSTM", 2, 1, True, 64, True), padded=False)
    'torch.cat([h_n[-2], h_n[-1]], dim=1)'
    >>> final_state(RnnFacts("LSTM", 2, 1, False, 64, True), padded=True)
    'torch.cat([x[lengths - 1, torch.arange(x.shape[1]), :64], x[0, :, 64:]], dim=1)'
"""

from __future__ import annotations

from dataclasses import dataclass

from core.records import Stage

BOTH_DIRECTIONS = "torch.cat([h_n[-2], h_n[-1]], dim=1)"
GATHER_LAST = "x[torch.arange(x.shape[0]), lengths - 1]"  # (b, l, h) -> (b, h): each text's last real token
GATHER_LAST_SEQ_FIRST = "x[lengths - 1, torch.arange(x.shape[1])]"  # (l, b, h) -> (b, h)


@dataclass(frozen=True)
class RnnFacts:
    """An LSTM/GRU stage as the diagnosis needs it.

    ``half``: the width of one direction of the output (proj_size or hidden_size); ``is_prev``: the stage is the
    input of the step being judged, so ``x`` is its output.
    """

    kind: str  # "LSTM" | "GRU"
    directions: int
    num_layers: int
    batch_first: bool
    half: int
    is_prev: bool
    seq_len: int = 0  # the time steps it ran (the padded length on a padded batch)
    over_tokens: bool = False  # it stepped along the tokens axis (so [PAD] positions were read)

    @property
    def bidirectional(self) -> bool:
        return self.directions == 2

    def layer(self, e: int) -> str:
        """Words for the layer of h_n entry ``e``: ``"the last layer"``, ``"layer 1"``."""
        layer = e // self.directions + 1
        if self.num_layers == 1:
            return "the layer" if self.bidirectional else "the last layer"
        return "the last layer" if layer == self.num_layers else f"layer {layer}"

    def entry(self, e: int) -> str:
        """Words for entry ``e`` of h_n: ``"layer 2's backward direction"`` (``"layer 1"`` when unidirectional)."""
        if not self.bidirectional:
            return self.layer(e)
        return f"{self.layer(e)}'s {'backward' if e % 2 else 'forward'} direction"


def rnn_facts(stages: list[Stage], judged: bool = True) -> RnnFacts | None:
    """The nearest LSTM/GRU stage before the step being judged, or None.

    ``judged``: ``stages[-1]`` is the judged step's own stage (a warning); False: every stage came before the
    step (a failure, whose step has no stage).
    """
    before = stages[:-1] if judged else stages
    for st in reversed(before):
        if st.kind in ("lstm", "gru") and st.extra("h_n") is not None:
            p = dict(st.extra("params", ()))
            h_n = tuple(st.extra("h_n"))
            t = 1 if p.get("batch_first") else 0
            seq = st.axes[t] if len(st.shape) == 3 and len(st.axes) == 3 else None
            return RnnFacts(
                kind=st.kind.upper(),
                directions=2 if p.get("bidirectional") else 1,
                num_layers=int(p.get("num_layers", 1)),
                batch_first=bool(p.get("batch_first")),
                half=int(h_n[-1]),
                is_prev=st is before[-1],
                seq_len=int(st.shape[t]) if seq is not None else 0,
                over_tokens=seq is not None and seq.role == "tokens",
            )
    return None


def gather_last(batch_first: bool, directions: int = 1, half: int = 0) -> str:
    """Each text's own final state from a padded (unpacked) output: the forward half at ``lengths - 1`` and, when
    bidirectional, the backward half at position 0 (where the backward direction ends)."""
    if directions == 1:
        return GATHER_LAST if batch_first else GATHER_LAST_SEQ_FIRST
    if batch_first:  # (b, l, 2h) -> (b, 2h)
        return f"torch.cat([x[torch.arange(x.shape[0]), lengths - 1, :{half}], x[:, 0, {half}:]], dim=1)"
    return f"torch.cat([x[lengths - 1, torch.arange(x.shape[1]), :{half}], x[0, :, {half}:]], dim=1)"


def final_state(facts: RnnFacts, padded: bool) -> str | None:
    """The expression for each text's final state (both directions), or None when the step cannot reach the output.

    Not padded: ``h_n[-1]`` / ``torch.cat([h_n[-2], h_n[-1]], dim=1)``. Padded: gathered from ``x`` (only when the
    step reads the LSTM's output directly).
    """
    if padded:
        return gather_last(facts.batch_first, facts.directions, facts.half) if facts.is_prev else None
    return BOTH_DIRECTIONS if facts.bidirectional else "h_n[-1]"
