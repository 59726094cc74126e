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
import core.diagnosis.explain.positions as positions
import core.diagnosis.explain.recurrent as recurrent
import core.diagnosis.explain.reshape as reshape
from core.diagnosis.explain.context import Handler

__all__ = ["RULES", "Rule"]


@dataclass(frozen=True)
class Rule:
    """One row: ``kind`` (a key of ``KINDS``), ``pattern`` (a regex searched in one exception block; its named
    groups are what the handler reads) and ``handler(match, ctx) -> (explanation, fix, numbers)``."""

    kind: str
    pattern: str
    handler: Handler
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern))


_L = r"[\d, ]{0,200}"  # a list of ints inside brackets, bounded
_EINOPS_HEAD = (  # einops: "Error while processing <op> pattern ...", "Input tensor shape: ...", then the reason line
    r"Error while processing \w{1,20}(?:-\w{1,20})? pattern[^\n]{0,600}\n[^\n]{0,80}Input tensor "
    r"shape:[^\n]{0,600}\n"
)
_EINOPS = _EINOPS_HEAD + r"[^\n]{0,600}?"  # ... and a reason somewhere in that line
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
        rf"Expected hidden(?:\[\d\])? size \((?P<want>{_L})\), got \[?\(?(?P<got>{_L})",
        recurrent.rnn_hidden,
    ),
    Rule("rnn_hidden", r"For unbatched 2-D input, hx (?:and cx )?should also be 2-D", recurrent.rnn_hidden_unbatched),
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
    Rule(
        "expand_nonsingleton",
        r"The expanded size of the tensor \((?P<new>-?\d+)\) must match the existing size "
        r"\((?P<old>\d+)\) "
        r"at non-singleton dimension (?P<dim>\d+)\.?"
        rf"(?:\s{{0,4}}Target sizes: \[(?P<target>[-\d, ]{{0,200}})\]\.\s{{0,4}}Tensor sizes: "
        rf"\[(?P<have>{_L})\])?",
        broadcasting.expand,
    ),
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
    Rule(
        "broadcast",
        r"The size of tensor a \((?P<a>\d+)\) must match the size of tensor b \((?P<b>\d+)\) at "
        r"non-singleton dimension (?P<d>\d+)",
        broadcasting.broadcast,
    ),
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
    Rule(
        "index_range",
        r"index (?P<idx>-?\d+) is out of bounds for dimension (?P<dim>\d+) with size (?P<size>\d+)",
        indexing.index_range,
    ),
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
