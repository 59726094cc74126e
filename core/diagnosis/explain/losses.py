"""Handlers for loss errors: logits against targets.

- ``loss_batch``: ``Expected input batch_size (8) to match target batch_size (512)`` — reasoned from the factors
  (512 = 8 × 64: labels per token), see :func:`batch_causes`.
- ``loss_target_size``: BCE's ``Target size (...) must be the same as input size (...)``, BCELoss's older
  "Using a target size ... is deprecated" and MSE/L1's broadcasting warning.
- ``multi_target``: one-hot or multi-hot rows into CrossEntropyLoss / NLLLoss.
- ``loss_class_dim``: CrossEntropyLoss reads classes at dim 1, per-token logits have them last.

:func:`batch_causes` is public: the loss stage's warnings can give the same reasons.
"""

from __future__ import annotations

import re
from typing import Any

from core.diagnosis.explain.causes import Cause, join_because, join_fixes, ratio
from core.diagnosis.explain.context import Ctx, Result
from core.diagnosis.explain.formatting import fmt_shape, ints, num

_FEW_CLASSES = 16  # a factor up to this is more likely a number of classes or of states than a sequence length


def batch_causes(input_rows: int, target_rows: int) -> list[Cause]:
    """Likely causes, most likely first, of a loss whose logits have ``input_rows`` rows and targets ``target_rows``.

    Reasoned from the factors of the two numbers, e.g. 512 targets for 8 rows of logits: 512 = 8 × 64.

    - targets = k × logits rows: labels per token (k = tokens per text; likelier for large k), or one-hot rows of
      k classes flattened (likelier for small k);
    - logits rows = k × targets: an LSTM/GRU's h_n (num_layers × num_directions = k, batch, hidden) reshaped into
      the batch (likelier for small k, k = 2 a bidirectional h_n), or logits per token against labels per text;
    - neither divides the other: the two come from different batches.

    >>> [c.code for c in batch_causes(8, 512)]
    ['per_token_labels', 'one_hot_flattened']
    >>> [c.code for c in batch_causes(24, 8)]
    ['states_in_batch', 'per_token_logits']
    >>> [c.code for c in batch_causes(16, 8)]  # 2 rows per text: a bidirectional h_n, never two tokens
    ['states_in_batch']
    """
    b, t = input_rows, target_rows
    k = ratio(t, b)
    if k is not None:
        per_token = Cause(
            "per_token_labels",
            f"{t} = {b} × {k}: the targets hold {k} labels per text — one per token (token classification: NER, "
            f"POS tagging) — while the logits have one row per text (the tokens were pooled away, or `x[:, 0]` / "
            "`h_n[-1]` was taken).",
            f"Keep the token axis: apply the classifier to every token, (batch, tokens, hidden) -> logits "
            f"({b}, {k}, C), and compare `logits.view(-1, C)` with `labels.view(-1)` ({t} rows each); give "
            "padding positions the label -100 (CrossEntropyLoss's ignore_index). Do not pool the tokens: that "
            f"leaves one row per text. If you meant one label per text, the labels must be ({b},).",
            label="the labels are per token",
        )
        one_hot = Cause(
            "one_hot_flattened",
            f"{t} = {b} × {k}: if you have {k} classes, the targets are one-hot (or multi-hot) rows ({b}, {k}) "
            f"flattened with `labels.view(-1)` into {t} numbers.",
            f"Give class ids: `labels.argmax(dim=1)` -> ({b},) long for CrossEntropyLoss; several labels per text "
            f"are multi-label: keep the ({b}, {k}) rows as floats and use BCEWithLogitsLoss with {k} outputs.",
            label="the targets are one-hot rows, flattened",
        )
        return [one_hot, per_token] if k <= _FEW_CLASSES else [per_token, one_hot]
    k = ratio(b, t)
    if k is not None:
        if k == 2:
            layers = "a bidirectional h_n (2, batch, hidden)"
        else:
            layers = f"h_n (num_layers × num_directions = {k}, batch, hidden)"
        states = Cause(
            "states_in_batch",
            f"{b} = {k} × {t}: {layers} reshaped with `h_n.view(-1, hidden)` (or `reshape`) folds its "
            f"{k} layer/direction entries into the batch, giving {b} rows for {t} texts.",
            "Keep one row per text: `torch.cat([h_n[-2], h_n[-1]], dim=1)` -> (batch, 2 × hidden_size) joins the "
            "last layer's two directions (then nn.Linear(2 * hidden_size, C)); `h_n[-1]` is the last layer of a "
            "one-direction LSTM/GRU.",
            label="h_n was folded into the batch",
        )
        per_token = Cause(
            "per_token_logits",
            f"{b} = {t} × {k}: the classifier ran on every one of {k} tokens and the ({t}, {k}, C) logits were "
            f"flattened to {b} rows, against one label per text.",
            "Pool to one vector per text before the classifier (pooling 'mean', `x[:, 0]` for [CLS], or a masked "
            f"mean), or give one label per token: labels ({t}, {k}).",
            label="the logits are per token",
        )
        if k == 2:  # two tokens is no text ([CLS] + [SEP]); two states is a bidirectional h_n
            return [states]
        return [states, per_token] if k <= 8 else [per_token, states]
    return [
        Cause(
            "different_batches",
            f"{b} and {t} are not multiples of each other: the logits and the targets come from different "
            "batches (labels of the whole dataset or of another batch, a last batch of another size), or a "
            "reshape with a hard-coded size cut one of them.",
            "Take logits and labels from the same batch of the DataLoader, use `x.size(0)` instead of hard-coded "
            "batch sizes, and print `logits.shape, labels.shape` right before the loss.",
        )
    ]


def loss_batch(m: re.Match[str], ctx: Ctx) -> Result:
    """``Expected input batch_size (8) to match target batch_size (512)``: the causes from the factors."""
    a, b = num(m["a"]), num(m["b"])
    causes = batch_causes(a, b)
    expl = (
        f"The loss got {a} predictions (rows of logits) but {b} targets. CrossEntropyLoss / NLLLoss pair them row "
        f"by row — logits (N, C) with class ids (N,) — so N must be the same. " + join_because(causes)
    )
    fix = join_fixes(causes)
    numbers: dict[str, Any] = {"input_batch": a, "target_batch": b, "causes": [c.code for c in causes]}
    k = ratio(b, a) or ratio(a, b)
    if k is not None:
        numbers["factor"] = k
    return expl, fix, numbers


# ---------------------------------------------------------------------------------------- target size


def _target_size(m: re.Match[str], loss: str) -> Result:
    """BCE-style losses score every logit against its own 0/1 target: the shapes must be equal."""
    target, logits = ints(m["target"]), ints(m["input"])
    numbers: dict[str, Any] = {"input_shape": logits, "target_shape": target}
    expl = (
        f"{loss} compares every logit with its own 0/1 target, so the targets must have exactly the logits' "
        f"shape; your logits are {fmt_shape(logits)}, your targets {fmt_shape(target)}."
    )
    if len(logits) == 2 and len(target) == 2 and logits[0] == target[0] and target[1] == 1 and logits[1] > 1:
        target = target[:1]  # (batch, 1) class ids: the same story as (batch,)
    if len(logits) == 2 and len(target) == 2 and logits[0] == target[0]:
        outs, labels = logits[1], target[1]
        numbers.update(num_outputs=outs, num_labels=labels, cause="label_columns")
        expl += (
            f" The head has {outs} output{'s' if outs != 1 else ''} per text, the targets {labels} column"
            f"{'s' if labels != 1 else ''}: one of them has the wrong number of labels."
        )
        fix = (
            f"If there are {labels} labels, build the head with out_features={labels} (num_labels={labels} for a "
            f"Hugging Face model, `nn.Linear(hidden, {labels})`); otherwise fix the label columns so each row has "
            f"{outs} 0/1 entries (a multi-hot row per text)."
        )
    elif len(logits) == 2 and len(target) == 1 and logits[0] == target[0]:
        outs = logits[1]
        numbers.update(num_outputs=outs)
        if outs == 1:
            numbers["cause"] = "squeeze"
            expl += " Same numbers, one dim more on the logits: (batch, 1) against (batch,)."
            fix = (
                "Drop the size-1 dim: `loss(logits.squeeze(1), labels.float())` (or `labels.float().unsqueeze(1)`). "
                "Avoid `.squeeze()` without a dim: a batch of 1 would lose its batch axis too."
            )
        else:
            numbers["cause"] = "class_ids"
            expl += (
                f" Your targets are one number per text — class ids — while the head gives {outs} logits per "
                f"text. {loss} treats each logit as its own yes/no question and wants a 0/1 target for each."
            )
            fix = (
                "For one class per text use CrossEntropyLoss with these logits and the ids as long: "
                "`nn.CrossEntropyLoss()(logits, labels.long())`"
            )
            if outs == 2:
                fix += (
                    "; or keep BCE with ONE output: `nn.Linear(hidden, 1)` and `loss(logits.squeeze(1), "
                    "labels.float())`."
                )
            else:
                fix += (
                    f". If a text can have several of the {outs} labels, BCE is right but the targets must be "
                    f"multi-hot rows (batch, {outs}) of 0/1; `F.one_hot(labels, {outs}).float()` builds them from "
                    "one id per text."
                )
    elif len(logits) == 1 and len(target) == 2 and logits[0] == target[0] and target[1] == 1:
        numbers["cause"] = "squeeze"
        expl += " Same numbers, one dim more on the targets: (batch,) against (batch, 1)."
        fix = "Drop the size-1 dim of the targets: `labels.squeeze(1).float()` (or `logits.unsqueeze(1)`)."
    elif logits and target and logits[0] != target[0]:
        causes = batch_causes(logits[0], target[0])
        numbers["causes"] = [c.code for c in causes]
        expl += f" Even the batch dims differ ({logits[0]} vs {target[0]}). " + join_because(causes)
        fix = join_fixes(causes)
    else:
        fix = (
            f"Reshape the targets to {fmt_shape(logits)} (one 0/1 float per logit), or change the head so it "
            f"outputs {fmt_shape(target)}."
        )
    return expl, fix, numbers


def bce_logits_target(m: re.Match[str], ctx: Ctx) -> Result:
    """``BCEWithLogitsLoss``: ``Target size (torch.Size([16, 3])) must be the same as input size (...)``."""
    return _target_size(m, "BCEWithLogitsLoss")


def bce_target_deprecated(m: re.Match[str], ctx: Ctx) -> Result:
    """``BCELoss`` (probabilities after a sigmoid): the older "Using a target size ... is deprecated" wording."""
    expl, fix, numbers = _target_size(m, "BCELoss")
    fix += " (BCEWithLogitsLoss on the raw logits is the numerically stable form of sigmoid + BCELoss.)"
    return expl, fix, numbers


def _broadcast_shape(a: list[int], b: list[int]) -> list[int] | None:
    """torch's broadcasting rule (align from the right; sizes equal or 1), None when they do not broadcast."""
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x != y and 1 not in (x, y):
            return None
        out.append(max(x, y))
    return out[::-1]


def regression_target(m: re.Match[str], ctx: Ctx) -> Result:
    """MSELoss / L1Loss's warning: target and output shapes differ, so the loss broadcasts them."""
    target, output = ints(m["target"]), ints(m["input"])
    grid = _broadcast_shape(output, target)
    numbers: dict[str, Any] = {"input_shape": output, "target_shape": target, "broadcast_shape": grid}
    expl = (
        f"MSELoss / L1Loss compare output and target element by element; your output is {fmt_shape(output)} and "
        f"the target {fmt_shape(target)}."
    )
    if grid is not None and grid not in (output, target):
        expl += (
            f" They broadcast to {fmt_shape(grid)}: every prediction is compared with every target, so the loss "
            "runs without an error and is wrong — a silent bug, not just a warning."
        )
    else:
        expl += " torch broadcasts them, which is rarely what was meant."
    if len(output) == len(target) + 1 and output[-1] == 1 and output[:-1] == target:
        fix = "Drop the output's size-1 dim: `loss(output.squeeze(-1), target)` (or `target.unsqueeze(-1)`)."
    elif len(target) == len(output) + 1 and target[-1] == 1 and target[:-1] == output:
        fix = "Drop the target's size-1 dim: `loss(output, target.squeeze(-1))`."
    else:
        fix = f"Make both {fmt_shape(output)}: one target per output value (or set the head's out_features)."
    return expl, fix, numbers


# ---------------------------------------------------------------------------------------- class ids


_MULTI_FIX = (
    "One label per text given as one-hot rows: pass class ids, `labels.argmax(dim=1)` -> (batch,) long. Several "
    "labels per text (multi-hot rows) is multi-label classification: use nn.BCEWithLogitsLoss with float targets "
    "`labels.float()` of the logits' shape (batch, num_labels), one output per label. One label per token: "
    "flatten both, `logits.view(-1, C)` against `labels.view(-1)`."
)


def multi_target(m: re.Match[str], ctx: Ctx) -> Result:
    """``0D or 1D target tensor expected, multi-target not supported`` (CrossEntropyLoss / NLLLoss)."""
    expl = (
        "CrossEntropyLoss and NLLLoss take ONE class id per row: targets (batch,) of dtype long with values "
        "0..C-1. Your targets have more dims: a row of 0/1 per text (one-hot or multi-hot labels), or a label "
        "per token."
    )
    return expl, _MULTI_FIX, {}


def target_probabilities(m: re.Match[str], ctx: Ctx) -> Result:
    """CrossEntropyLoss with long targets of the logits' shape: read as class probabilities, which must be float."""
    dtype = m["dtype"]
    expl = (
        "Your targets have the same shape as the logits (batch, C), so CrossEntropyLoss reads them as class "
        f"probabilities — which must be float — but they are {dtype}: a 0/1 matrix, one-hot or multi-hot rows."
    )
    fix = (
        _MULTI_FIX + " (One-hot rows as probabilities also work with `labels.float()`; a multi-hot row is not a "
        "probability distribution.)"
    )
    return expl, fix, {"target_dtype": dtype}


def class_dim(m: re.Match[str], ctx: Ctx) -> Result:
    """``Expected target size [8, 3], got [8, 64]``: CrossEntropyLoss took dim 1 of (batch, tokens, C) as classes."""
    want, got = ints(m["want"]), ints(m["got"])
    numbers: dict[str, Any] = {"expected_target_shape": want, "target_shape": got}
    expl = (
        "CrossEntropyLoss reads the classes from dim 1 of the logits — (batch, C) or (batch, C, d1, ...) for a "
        f"label per position — and then expects targets {fmt_shape(want)}; yours are {fmt_shape(got)}."
    )
    if len(want) == 2 and len(got) == 2 and want[0] == got[0]:
        b, classes, tokens = want[0], want[1], got[1]
        numbers.update(num_classes=classes, tokens=tokens)
        expl += (
            f" So the logits are ({b}, {tokens}, {classes}) = (batch, tokens, classes), classes LAST: the loss took "
            f"the {tokens} tokens as classes and the {classes} classes as positions."
        )
        fix = (
            f"Flatten both: `F.cross_entropy(logits.view(-1, {classes}), labels.view(-1))` ({b} × {tokens} = "
            f"{b * tokens} rows), or move the classes to dim 1: `F.cross_entropy(logits.permute(0, 2, 1), labels)`."
        )
    else:
        fix = (
            "Put the classes at dim 1 of the logits (`logits.permute(0, 2, 1)` for (batch, tokens, classes)) or "
            "flatten both to (N, C) and (N,); targets are class ids without the class dim."
        )
    return expl, fix, numbers


_IGNORE_INDEX = -100  # CrossEntropyLoss / NLLLoss's default ignore_index: a target of -100 is skipped


def target_range(m: re.Match[str], ctx: Ctx) -> Result:
    """``Target 3 is out of bounds.``: a class id ≥ the number of classes (or negative) in CrossEntropyLoss /
    NLLLoss. The number of classes is the logits' dim 1 (``(N, C)`` or ``(N, C, L)``) when the context knows it."""
    t = num(m["target"])
    classes = ctx.shape[1] if ctx.shape is not None and len(ctx.shape) >= 2 else None
    have = (
        f"Your logits {fmt_shape(ctx.shape)} have {classes} classes, so the class ids are 0..{classes - 1}."
        if classes
        else "The number of classes is the size of the logits' dim 1: the out_features of the last Linear."
    )
    if t < 0:
        expl = (
            f"A target is {t}: CrossEntropyLoss / NLLLoss read each target as a class id, 0..num_classes-1, and a "
            f"negative id is none (only ignore_index, {_IGNORE_INDEX} by default, is skipped). {have}"
        )
        fix = (
            f"Map the labels to 0..num_classes-1; mark positions to skip (padding) with {_IGNORE_INDEX}, or pass "
            f"`ignore_index={t}` to the loss if {t} is your padding label."
        )
        return expl, fix, {"target": t, **({"num_classes": classes} if classes else {})}
    expl = (
        f"A target is the class id {t}, but CrossEntropyLoss / NLLLoss read class ids 0..num_classes-1: {t} needs "
        f"at least {t + 1} classes. {have}"
    )
    if classes and t == classes:
        expl += (
            f" A label equal to the number of classes ({t}) usually means labels counted from 1 (1..{t}) or a "
            "classifier built with one class too few."
        )
    fix = (
        f"Give the last Linear out_features = max label + 1 (at least {t + 1} here), or map the labels to "
        "0..num_classes-1 (`labels - 1` for labels counted from 1)."
    )
    return expl, fix, {"target": t, **({"num_classes": classes} if classes else {})}


def target_range_cuda(m: re.Match[str], ctx: Ctx) -> Result:
    """The CUDA form: ``Assertion `t >= 0 && t < n_classes` failed`` (the kernel does not say which target)."""
    expl = (
        "On the GPU, CrossEntropyLoss / NLLLoss found a target outside 0..num_classes-1 (the kernel's check "
        "`t >= 0 && t < n_classes`): a label ≥ the number of classes, or negative other than ignore_index (-100)."
    )
    fix = (
        "Print `labels.min(), labels.max()` and the logits' dim 1 (the last Linear's out_features): set out_features "
        "= max label + 1, or map the labels to 0..num_classes-1. Run on CPU to get the exact target in the message."
    )
    return expl, fix, {}
