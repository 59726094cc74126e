"""Human titles for finding codes: what the UI shows above a finding's message. The code itself stays in the
CLI's JSON (``"code": "view_as_permute"``); learners read "A view used as a transpose".

A data table: one row per code that core/diagnosis emits (a test parses every ``Finding("code", …)`` in the
package and checks it has a title here). An unknown code still gets a readable title from its words.

>>> finding_title("view_as_permute"), finding_title("some_new_code")
('A view used as a transpose', 'Some new code')
"""

from __future__ import annotations

TITLES: dict[str, str] = {
    # spec-level notes
    "truncated": "Texts cut by max_length",
    "random_weights": "Random weights: shapes only",
    "pooler_untrained": "The pooler was not trained",
    "cls_on_mean_model": "[CLS] of a model trained for mean pooling",
    "no_words_left": "No words left: max_length only keeps the special tokens",
    # reshape and indexing
    "view_as_permute": "A view used as a transpose",
    "reshape_cuts_axis": "A reshape that cuts through an axis",
    "axis_dropped": "An axis was dropped",
    "padded_last_step": "The last step of a padded batch",
    "unmasked_reduction": "Padding counted in a mean or max",
    "batch_axis_dropped": "The batch axis was indexed away",
    "batch_axis_mixed": "Batch mixed with another axis",
    # layers
    "batch_first": "Batch and time swapped (batch_first)",
    "unbatched_sequence": "A batch read as one sequence",
    "conv_over_hidden": "Conv1d slides over the wrong axis",
    "bidirectional_last_step": "Half of a bidirectional last step",
    "state_fixed_batch": "An initial state with a fixed batch size",
    # losses
    "softmax_before_loss": "Softmax before CrossEntropyLoss",
    "sigmoid_before_loss": "Sigmoid before BCEWithLogitsLoss",
    "nll_raw_logits": "NLLLoss given raw logits",
    "loss_broadcast": "A loss that broadcasts its target",
}


def finding_title(code: str) -> str:
    """The human title of a finding code; an unknown code's words, capitalised (``a_b`` -> ``A b``)."""
    title = TITLES.get(code)
    if title:
        return title
    words = str(code).replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:] if words else "Note"
