"""The rule table: one row per error wording — the kind it is, the pattern that finds it, the handler that explains it.

Adding a kind is adding a row here (and a title in ``kinds.py``); the handlers live beside this file, one module per
family of errors. ``explain`` tries the rows top to bottom on each exception block of a paste and the first match wins,
so a specific wording must come before a general one that would also match it (einops' messages quote the pattern,
which could contain anything, so they come first).

Patterns follow torch 2.13's wording, plus some older variants. Every regex is linear-time: bounded character
classes, no nested quantifiers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import core.diagnosis.explain.broadcasting as broadcasting
import core.diagnosis.explain.constructors as constructors
import core.diagnosis.explain.conv as conv
import core.diagnosis.explain.dims as dims
import core.diagnosis.explain.einops_errors as einops_errors
import core.diagnosis.explain.indexing as indexing
import core.diagnosis.explain.joining as joining
import core.diagnosis.explain.losses as losses
import core.diagnosis.explain.matmul as matmul
import core.diagnosis.explain.norms as norms
import core.diagnosis.explain.objects as objects
import core.diagnosis.explain.packing as packing
import core.diagnosis.explain.positions as positions
import core.diagnosis.explain.recurrent as recurrent
import core.diagnosis.explain.reshape as reshape
import core.diagnosis.explain.states as states
from core.diagnosis.explain.context import Handler

__all__ = ["RULES", "Rule"]


@dataclass(frozen=True)
class Rule:
    """One row: ``kind`` (a key of ``KINDS``), ``pattern`` (a regex searched in one exception block; its named
    groups are what the handler reads) and ``handler(match, ctx) -> (explanation, fix, numbers)``.

    ``frames``, when given, is a regex that must also be found in the traceback's last frame before the message
    (``Ctx.frames``): the same torch wording means something else when BERT's embeddings raised it.
    """

    kind: str
    pattern: str
    handler: Handler
    frames: str | None = None
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)
    frames_regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern))
        object.__setattr__(self, "frames_regex", re.compile(self.frames) if self.frames else None)

    def search(self, block: str, frames: str) -> re.Match[str] | None:
        """The match in ``block`` when the row applies (its frames, if any, found in ``frames``), else None."""
        if self.frames_regex is not None and not self.frames_regex.search(frames):
            return None
        return self.regex.search(block)


_L = r"[\d, ]{0,200}"  # a list of ints inside brackets, bounded
_EINOPS_HEAD = (  # einops: "Error while processing <op> pattern ...", "Input tensor shape: ...", then the reason line
    r"Error while processing \w{1,20}(?:-\w{1,20})? pattern[^\n]{0,600}\n[^\n]{0,80}Input tensor "
    r"shape:[^\n]{0,600}\n"
)
_EINOPS = _EINOPS_HEAD + r"[^\n]{0,600}?"  # ... and a reason somewhere in that line
_BROADCAST = (
    r"The size of tensor a \((?P<a>\d+)\) must match the size of tensor b \((?P<b>\d+)\) at "
    r"non-singleton dimension (?P<d>\d+)"
)
_EXPAND = (
    r"The expanded size of the tensor \((?P<new>-?\d+)\) must match the existing size "
    r"\((?P<old>\d+)\) "
    r"at non-singleton dimension (?P<dim>\d+)\.?"
    rf"(?:\s{{0,4}}Target sizes: \[(?P<target>[-\d, ]{{0,200}})\]\.\s{{0,4}}Tensor sizes: "
    rf"\[(?P<have>{_L})\])?"
)
_INDEX_OOB = r"index (?P<idx>-?\d+) is out of bounds for dimension (?P<dim>\d+) with size (?P<size>\d+)"
# the failing frame is a transformer's embeddings adding or looking up position vectors
_POSITION_FRAME = r"position_embeddings|position_ids|token_type_ids\.expand|buffered_token_type_ids"
_TARGET = rf"\(torch\.Size\(\[(?P<target>{_L})\]\)\)"  # "(torch.Size([16, 3]))"
_INPUT = rf"\(torch\.Size\(\[(?P<input>{_L})\]\)\)"
_KWARG = r"(?:(?P<cls>\w{1,60})\.)?__init__\(\) got an unexpected keyword argument '(?P<arg>"
_KERAS = "|".join(constructors.KERAS_ARGS)

RULES: list[Rule] = [
    Rule(
        "einops_shape",
        _EINOPS + r"(?:expected|Expected) (?P<want>\d+) dim\w*(?:\. Received|, got) (?P<got>\d+)",
        einops_errors.rank,
    ),
    Rule(
        "einops_shape",
        _EINOPS + r"can't divide axis of length (?P<length>\d+) in chunks of (?P<chunk>\d+)",
        einops_errors.divide,
    ),
    Rule("einops_shape", _EINOPS + r"Shape mismatch, (?P<a>\d+) ?!= ?(?P<b>\d+)", einops_errors.product),
    Rule("einops_shape", _EINOPS + r"Could not infer sizes for \{(?P<axes>[^}\n]{0,200})\}", einops_errors.infer),
    Rule(
        "einops_pattern",
        _EINOPS + r"Identifiers only on one side of expression \(should be on both\): \{(?P<axes>[^}\n]{0,200})\}",
        einops_errors.one_side,
    ),
    Rule("einops_pattern", _EINOPS + r'duplicate dimension "(?P<name>\w{1,40})"', einops_errors.duplicate),
    Rule("einops_pattern", _EINOPS_HEAD + r"(?P<reason>[^\n]{1,600})", einops_errors.other),
    Rule("keras_kwarg", _KWARG + rf"(?:{_KERAS}))'", constructors.keras_kwarg),
    Rule("unknown_kwarg", _KWARG + r"\w{1,60})'", constructors.unknown_kwarg),
    # a text longer than the model's positions: torch's generic wordings, raised in the embeddings
    Rule("position_limit", _BROADCAST, positions.position_add, frames=_POSITION_FRAME),
    Rule("position_limit", _EXPAND, positions.position_expand, frames=_POSITION_FRAME),
    Rule("position_limit", _INDEX_OOB, positions.position_index, frames=_POSITION_FRAME),
    Rule("position_limit", r"index out of range in self", positions.position_lookup, frames=_POSITION_FRAME),
    Rule(
        "conv_channels",
        r"Given groups=(?P<groups>\d+), weight of size \[?(?P<weight>[\d, ]{1,200})\]?, expected "
        r"input\[(?P<input>[\d, ]{1,200})\] to have (?P<exp>\d+) channels, but got (?P<got>\d+) channels",
        conv.conv_channels,
    ),
    Rule(
        "conv_rank",
        r"Expected (?P<lo>\d)D \(unbatched\) or (?P<hi>\d)D \(batched\) input to (?P<op>conv\w{1,20}), "
        rf"but got input of size:? ?\[(?P<shape>{_L})\]",
        conv.conv_rank,
    ),
    Rule(
        "conv_rank",
        rf"Expected (?P<want>\d+)-dimensional input for \d+-dimensional weight \[?(?P<weight>{_L})\]?, "
        rf"but got \d+-dimensional input of size \[(?P<shape>{_L})\]",
        conv.conv_rank_old,
    ),
    Rule(
        "kernel_too_large",
        r"Calculated padded input size per channel: \((?P<size>[\d x]{1,60})\)\. "
        r"Kernel size: \((?P<kernel>[\d x]{1,60})\)\. Kernel size can't be greater",
        conv.kernel_too_large,
    ),
    Rule(
        "kernel_too_large",
        r"(?P<op>\w{1,30}\(\)) Invalid computed output size: (?P<size>-?\d+)",
        conv.pool_output_size,
    ),
    Rule("conv_padding", r"padding='same' is not supported for strided convolutions", conv.conv_padding_same),
    Rule("conv_padding", r"Invalid padding string '(?P<mode>[^'\n]{0,40})'", conv.conv_padding_invalid),
    Rule(
        "rnn_input_size",
        r"input\.size\(-1\) must be equal to input_size\. Expected (?P<exp>\d+), got (?P<got>\d+)",
        recurrent.rnn_input_size,
    ),
    Rule(
        "rnn_rank",
        r"(?:(?P<name>LSTM|GRU|RNN|RNN_TANH|RNN_RELU): )?Expected input to be 2D or 3D, got (?P<got>\d+)D",
        recurrent.rnn_rank,
    ),
    Rule("rnn_rank", r"(?P<name>)input must have 3 dimensions, got (?P<got>\d+)", recurrent.rnn_rank),
    Rule(
        "rnn_hidden",
        rf"Expected (?P<which>hidden(?:\[\d\])?|cell) size [(\[](?P<want>{_L})[)\]], got [\[(](?P<got>{_L})",
        states.rnn_hidden,
    ),
    Rule(
        "rnn_hidden",
        r"Input batch size (?P<batch>\d+) doesn't match hidden(?P<idx>\d) batch size (?P<hbatch>\d+)",
        states.cell_batch,
    ),
    Rule(
        "rnn_hidden",
        r"hidden\d has inconsistent hidden_size: got (?P<got>\d+), expected (?P<want>\d+)",
        states.cell_hidden,
    ),
    Rule(
        "rnn_hidden",
        r"For batched 3-D input, hx (?:and cx )?should also be 3-D but got (?P<dims>[\w(), -]{1,30} tensors?)",
        states.state_rank,
    ),
    Rule("rnn_hidden", r"For unbatched 2-D input, hx (?:and cx )?should also be 2-D", states.rnn_hidden_unbatched),
    Rule(
        "pack_lengths",
        r"'lengths' argument should be a 1D CPU int64 tensor, but got (?P<nd>\d+)D (?P<device>[\w:]{1,20}) "
        r"(?P<dtype>\w{1,20}) tensor",
        packing.lengths_tensor,
    ),
    Rule(
        "pack_lengths",
        r"Expected `len\(lengths\)` to be equal to batch_size, but got (?P<n>\d+) \(batch_size=(?P<batch>\d+)\)",
        packing.lengths_count,
    ),
    Rule(
        "pack_lengths",
        r"`lengths` array must be sorted in decreasing order when `enforce_sorted` is True",
        packing.lengths_order,
    ),
    Rule(
        "pack_lengths",
        r"Length of all samples has to be greater than 0, but found an element in 'lengths' that is <= 0",
        packing.lengths_zero,
    ),
    Rule(
        "dtype_mismatch",
        r"must have the same dtype|expected scalar type \w+ but found \w+|Input type \([\w ]{1,30}\) and "
        r"(?:bias|weight) type \([\w ]{1,30}\) should be the same|input dtype \([\w.]{1,30}\) does "
        r"not match "
        r"weight dtype|Expected tensor for argument #\d+ 'indices' to have one of the following "
        r"scalar types",
        objects.dtype_mismatch,
    ),
    Rule(
        "linear_mat",
        r"mat1 and mat2 shapes cannot be multiplied \((?P<a>\d+)x(?P<b>\d+) and (?P<c>\d+)x(?P<d>\d+)\)",
        matmul.linear_mat,
    ),
    Rule(
        "linear_mat",
        r"size mismatch, m1: \[(?P<a>\d+) x (?P<b>\d+)\], m2: \[(?P<c>\d+) x (?P<d>\d+)\]",
        matmul.linear_mat,
    ),
    Rule(
        "matmul",
        rf"Expected size for first two dimensions of batch2 tensor to be: \[(?P<want>{_L})\] "
        rf"but got: \[(?P<got>{_L})\]",
        matmul.bmm,
    ),
    Rule("matmul", r"(?P<which>batch[12]) must be a 3D tensor", matmul.matmul_rank),
    Rule("matmul", r"size mismatch, got input \(\d+\), mat \((?P<r>\d+)x(?P<c>\d+)\), vec \((?P<v>\d+)\)", matmul.mv),
    Rule(
        "matmul",
        r"inconsistent tensor size, expected tensor \[\d+\] and src \[\d+\] to have the same number of "
        r"elements, but got (?P<a>\d+) and (?P<b>\d+) elements",
        matmul.dot,
    ),
    Rule("expand_nonsingleton", _EXPAND, broadcasting.expand),
    Rule(
        "expand_rank",
        r"the number of sizes provided \((?P<n>\d+)\) must be greater or equal to the number of "
        r"dimensions "
        r"in the tensor \((?P<nd>\d+)\)",
        broadcasting.expand_rank,
    ),
    Rule(
        "expand_rank",
        r"Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor",
        broadcasting.repeat_rank,
    ),
    Rule("broadcast", _BROADCAST, broadcasting.broadcast),
    Rule("view_stride", r"view size is not compatible with input tensor's size and stride", reshape.view_stride),
    Rule(
        "reshape_size",
        r"shape '\[(?P<shape>[-\d, ]{0,200})\]' is invalid for input of size (?P<numel>\d+)",
        reshape.reshape_size,
    ),
    Rule("multiple_infer", r"only one dimension can be inferred", reshape.multiple_infer),
    Rule(
        "unflatten_size",
        r"unflatten: Provided sizes \[(?P<sizes>[-\d, ]{0,200})\] don't multiply up to the size of dim "
        r"(?P<dim>\d+) \((?P<size>\d+)\)",
        reshape.unflatten_size,
    ),
    Rule(
        "split_size",
        r"split_with_sizes expects split_sizes to sum exactly to (?P<total>\d+) \(input tensor's size at "
        rf"dimension (?P<dim>\d+)\), but got split_sizes=\[(?P<sizes>{_L})\]",
        reshape.split_size,
    ),
    Rule("flatten_args", r"start_dim cannot come after end_dim", reshape.flatten_args),
    Rule(
        "permute_dims",
        r"number of dimensions in the tensor input does not match the length of the desired ordering of "
        r"dimensions(?: i\.e\. input\.dim\(\) = (?P<nd>\d+) is not equal to len\(dims\) = (?P<nl>\d+))?",
        dims.permute_dims,
    ),
    Rule("permute_dims", r"number of dims don't match in permute(?P<nd>)(?P<nl>)", dims.permute_dims),
    Rule(
        "permute_duplicate",
        r"permute\(\): duplicate dims are not allowed|repeated dim in permute",
        dims.permute_duplicate,
    ),
    Rule("permute_duplicate", r"dim (?P<dim>-?\d+) appears multiple times in the list of dims", dims.permute_duplicate),
    Rule("t_rank", r"t\(\) expects a tensor with <= 2 dimensions, but self is (?P<nd>\d+)D", dims.t_rank),
    Rule(
        "dim_range",
        r"Dimension out of range \(expected to be in range of \[(?P<lo>-?\d+), (?P<hi>-?\d+)\], "
        r"but got (?P<got>-?\d+)\)",
        dims.dim_range,
    ),
    Rule("index_range", _INDEX_OOB, indexing.index_range),
    Rule(
        "index_range",
        rf"select\(\): index (?P<idx>-?\d+) out of range for tensor of size \[(?P<shape>{_L})\] at "
        r"dimension (?P<dim>\d+)",
        indexing.select_range,
    ),
    Rule(
        "index_range",
        r"INDICES element is out of DATA bounds, id=(?P<idx>-?\d+) axis_dim=(?P<size>\d+)",
        indexing.gather_range,
    ),
    Rule(
        "index_range",
        r"start \((?P<start>\d+)\) \+ length \((?P<len>\d+)\) exceeds dimension size \((?P<size>\d+)\)",
        indexing.narrow,
    ),
    Rule(
        "index_broadcast",
        r"shape mismatch: indexing tensors could not be broadcast together with shapes (?P<shapes>[\[\]\d, ]{1,400})",
        indexing.index_broadcast,
    ),
    Rule("too_many_indices", r"too many indices for tensor of dimension (?P<nd>\d+)", indexing.too_many_indices),
    Rule(
        "mask_shape",
        rf"The shape of the mask \[(?P<mask>{_L})\] at index \d+ does not match the shape of the indexed "
        rf"tensor \[(?P<tensor>{_L})\]",
        indexing.mask_shape,
    ),
    Rule("embedding_index", r"index out of range in self", positions.embedding_index),
    Rule(
        "cat_size",
        r"Sizes of tensors must match except in dimension (?P<dim>\d+)\. Expected size (?P<exp>\d+) "
        r"but got "
        r"size (?P<got>\d+) for tensor number (?P<t>\d+)",
        joining.cat_size,
    ),
    Rule(
        "cat_size",
        r"Sizes of tensors must match except in dimension (?P<dim>\d+)\. Got (?P<a>\d+) and "
        r"(?P<b>\d+) in "
        r"dimension (?P<d2>\d+)",
        joining.cat_size_old,
    ),
    Rule("cat_rank", r"Tensors must have same number of dimensions: got (?P<a>\d+) and (?P<b>\d+)", joining.cat_rank),
    Rule(
        "stack_size",
        rf"stack expects each tensor to be equal size, but got \[(?P<s1>{_L})\] at entry (?P<e1>\d+) and "
        rf"\[(?P<s2>{_L})\] at entry (?P<e2>\d+)",
        joining.stack_size,
    ),
    Rule("pad_length", r"Padding length must be divisible by 2", joining.pad_odd),
    Rule(
        "pad_length",
        r"Padding length should be less than or equal to two times the input dimension but got padding "
        r"length (?P<n>\d+) and input of dimension (?P<nd>\d+)",
        joining.pad_long,
    ),
    Rule(
        "layernorm_shape",
        rf"Given normalized_shape=\[(?P<ns>{_L})\], expected input with shape \[\*, ?{_L}\], but got "
        r"input "
        rf"of size ?\[(?P<got>{_L})\]",
        norms.layernorm,
    ),
    Rule("norm_features", r"running_mean should contain (?P<got>\d+) elements not (?P<want>\d+)", norms.norm_features),
    Rule(
        "loss_batch",
        r"Expected input batch_size \((?P<a>\d+)\) to match target batch_size \((?P<b>\d+)\)",
        losses.loss_batch,
    ),
    Rule(
        "loss_target_size",
        "Target size " + _TARGET + " must be the same as input size " + _INPUT,
        losses.bce_logits_target,
    ),
    Rule(
        "loss_target_size",
        "Using a target size " + _TARGET + " that is different to the input size " + _INPUT + r" is deprecated",
        losses.bce_target_deprecated,
    ),
    Rule(
        "loss_target_size",
        "Using a target size "
        + _TARGET
        + " that is different to the input size "
        + _INPUT
        + r"\. This will likely lead to incorrect results due to broadcasting",
        losses.regression_target,
    ),
    Rule("multi_target", r"0D or 1D target tensor expected, multi-target not supported", losses.multi_target),
    Rule(
        "multi_target",
        r"Expected floating point type for target with class probabilities, got (?P<dtype>\w{1,20})",
        losses.target_probabilities,
    ),
    Rule("target_range", r"Target (?P<target>-?\d+) is out of bounds", losses.target_range),
    Rule("target_range", r"Assertion `t >= 0 && t < n_classes` failed", losses.target_range_cuda),
    Rule(
        "device_assert",
        r"(?:CUDA|device-side) (?:error: )?(?:device-side )?assert(?:ion)? triggered|"
        r"CUDA error: device-side assert",
        objects.device_assert,
    ),
    Rule("loss_class_dim", rf"Expected target size \[(?P<want>{_L})\], got \[(?P<got>{_L})\]", losses.class_dim),
    Rule(
        "tuple_input",
        r"argument 'input' \(position 1\) must be Tensor, not tuple|'tuple' object has no attribute "
        r"'(?:shape|size|view|reshape|permute|transpose|dim|unsqueeze|squeeze|contiguous|flatten|mean)'|"
        r"received an invalid combination of arguments - got \(tuple,",
        objects.tuple_input,
    ),
    Rule(
        "model_output",
        r"'(?P<cls>\w{0,80}(?:ModelOutput|Output\w{0,40}))' object has no attribute '\w{1,40}'",
        objects.model_output,
    ),
    Rule(
        "missing_arg",
        r"(?:(?P<cls>\w{1,60})\.)?__init__\(\) missing \d+ required positional arguments?: "
        r"(?P<args>[\w', ]{1,200})",
        constructors.missing_arg,
    ),
    Rule(
        "device_mismatch",
        r"Expected all tensors to be on the same device|Tensor on device \w+(?::\d+)? is not on the "
        r"expected "
        r"device|Input type \(torch\.cuda\.\w+\) and weight type \(torch\.\w+\) should be the same",
        objects.device_mismatch,
    ),
]
