"""Every op of the expression language, by family: parse -> predict (meta) -> run, against plain torch.

Each row is a step and the same computation written in plain PyTorch. The prediction (torch on meta tensors)
must give the reference's shape and strides, the run its values, shape, strides and dtype; ``to_source`` of
the bound ops must parse back to the same ops; every op of ``OP_NAMES`` appears in some row.
"""

from __future__ import annotations

import math
import zlib

import einops
import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from core.engine.expr import (
    OP_NAMES,
    DataDependent,
    bind,
    describe,
    parse_statement,
    predict_statement,
    run_statement,
    to_source,
)
from core.engine.parse import parse_expr


def _gen(call: bytes) -> torch.Generator:
    return torch.Generator().manual_seed(zlib.crc32(call))


def make_env() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    return {
        "x": torch.randn(2, 5, 8, generator=g),
        "mask": mask,
        "attention_mask": mask,
        "input_ids": torch.randint(0, 100, (2, 5), generator=g),
        "lengths": mask.sum(1),
        "h_n": torch.randn(2, 2, 8, generator=g),
        "c_n": torch.randn(2, 2, 8, generator=g),
        "w": torch.randn(2, 8, 3, generator=g),
        "idx": torch.tensor([[0, 2, 4], [1, 1, 3]]),
        "v": torch.randn(8, generator=g),
    }


E = make_env()
X, M = E["x"], E["mask"]

# (family, step, plain torch reference)
TABLE = [
    # 1. arithmetic and comparison
    ("arith", "x * 2", lambda e: e["x"] * 2),
    ("arith", "2 * x", lambda e: 2 * e["x"]),
    ("arith", "x + x", lambda e: e["x"] + e["x"]),
    ("arith", "x - 1.5", lambda e: e["x"] - 1.5),
    ("arith", "1.0 - mask", lambda e: 1.0 - e["mask"]),
    ("arith", "x / x.size(-1) ** 0.5", lambda e: e["x"] / 8**0.5),
    ("arith", "x / math.sqrt(x.size(-1))", lambda e: e["x"] / math.sqrt(8)),
    ("arith", "1 / (x.abs() + 1)", lambda e: 1 / (e["x"].abs() + 1)),
    ("arith", "x // 2", lambda e: e["x"] // 2),
    ("arith", "x % 2", lambda e: e["x"] % 2),
    ("arith", "x ** 2", lambda e: e["x"] ** 2),
    ("arith", "2 ** x", lambda e: 2 ** e["x"]),
    ("arith", "-x", lambda e: -e["x"]),
    ("arith", "x * mask.unsqueeze(-1)", lambda e: e["x"] * e["mask"].unsqueeze(-1)),
    ("arith", "x > 0", lambda e: e["x"] > 0),
    ("arith", "0 < x", lambda e: e["x"] > 0),
    ("arith", "x <= x.mean()", lambda e: e["x"] <= e["x"].mean()),
    ("arith", "mask == 1", lambda e: e["mask"] == 1),
    ("arith", "mask != 0", lambda e: e["mask"] != 0),
    ("arith", "x >= 0.5", lambda e: e["x"] >= 0.5),
    ("arith", "x < x.mean(1, keepdim=True)", lambda e: e["x"] < e["x"].mean(1, keepdim=True)),
    ("arith", "(mask == 1) & (mask != 0)", lambda e: (e["mask"] == 1) & (e["mask"] != 0)),
    ("arith", "(mask == 1) | (mask == 0)", lambda e: (e["mask"] == 1) | (e["mask"] == 0)),
    ("arith", "(mask == 1) ^ (mask == 0)", lambda e: (e["mask"] == 1) ^ (e["mask"] == 0)),
    ("arith", "~mask.bool()", lambda e: ~e["mask"].bool()),
    ("arith", "x.add(1)", lambda e: e["x"].add(1)),
    ("arith", "torch.mul(x, 0.5)", lambda e: torch.mul(e["x"], 0.5)),
    ("arith", "x.div(2, rounding_mode='floor')", lambda e: e["x"].div(2, rounding_mode="floor")),
    ("arith", "torch.maximum(x, x.flip(1))", lambda e: torch.maximum(e["x"], e["x"].flip(1))),
    ("arith", "x.minimum(x.roll(1, 1))", lambda e: e["x"].minimum(e["x"].roll(1, 1))),
    ("arith", "torch.max(x, x.flip(1))", lambda e: torch.max(e["x"], e["x"].flip(1))),  # (input, other): elementwise
    ("arith", "torch.min(x, torch.zeros_like(x))", lambda e: torch.min(e["x"], torch.zeros_like(e["x"]))),
    ("arith", "torch.max(x, 1).values", lambda e: torch.max(e["x"], 1).values),  # (input, dim): a reduction
    ("arith", "torch.max(x, other=x.flip(1))", lambda e: torch.max(e["x"], other=e["x"].flip(1))),
    ("arith", "torch.min(input=x, other=x * 2)", lambda e: torch.min(input=e["x"], other=e["x"] * 2)),
    ("arith", "x.max(other=x.roll(1, 1))", lambda e: e["x"].max(other=e["x"].roll(1, 1))),
    ("arith", "torch.max(input=x, dim=1).values", lambda e: torch.max(input=e["x"], dim=1).values),
    ("arith", "x.clamp(min=-1, max=1)", lambda e: e["x"].clamp(min=-1, max=1)),
    ("arith", "x.clamp_min(0)", lambda e: e["x"].clamp_min(0)),
    ("arith", "x.clamp_max(0)", lambda e: e["x"].clamp_max(0)),
    ("arith", "x - x.max(dim=-1, keepdim=True).values", lambda e: e["x"] - e["x"].max(-1, keepdim=True).values),
    ("arith", "x.masked_fill(mask.unsqueeze(-1) == 0, float('-inf'))",
     lambda e: e["x"].masked_fill(e["mask"].unsqueeze(-1) == 0, float("-inf"))),
    ("arith", "x.exp().log1p().sqrt()", lambda e: e["x"].exp().log1p().sqrt()),
    ("arith", "x.tanh().sigmoid().relu()", lambda e: e["x"].tanh().sigmoid().relu()),
    ("arith", "F.gelu(x)", lambda e: F.gelu(e["x"])),
    ("arith", "F.gelu(x, approximate='tanh')", lambda e: F.gelu(e["x"], approximate="tanh")),
    ("arith", "F.silu(x) + F.leaky_relu(x, 0.2) + F.elu(x)",
     lambda e: F.silu(e["x"]) + F.leaky_relu(e["x"], 0.2) + F.elu(e["x"])),
    ("arith", "torch.relu(x) * F.tanh(x) * F.sigmoid(x)",
     lambda e: torch.relu(e["x"]) * F.tanh(e["x"]) * F.sigmoid(e["x"])),
    ("arith", "x.abs().log().rsqrt().reciprocal()", lambda e: e["x"].abs().log().rsqrt().reciprocal()),
    ("arith", "x.sin().cos().sign().floor().ceil().round()",
     lambda e: e["x"].sin().cos().sign().floor().ceil().round()),
    ("arith", "x.expm1().erf().square().neg()", lambda e: e["x"].expm1().erf().square().neg()),
    ("arith", "x.isnan() | x.isinf()", lambda e: e["x"].isnan() | e["x"].isinf()),
    ("arith", "mask.logical_not()", lambda e: e["mask"].logical_not()),
    ("arith", "mask.bool().bitwise_not()", lambda e: e["mask"].bool().bitwise_not()),
    ("arith", "x.clone().detach()", lambda e: e["x"].clone().detach()),
    ("arith", "x.pow(2).sub(1).floor_divide(2).remainder(3)",
     lambda e: e["x"].pow(2).sub(1).floor_divide(2).remainder(3)),
    ("arith", "x.mul(x).eq(0).ne(1).lt(2).le(3).gt(-1).ge(0)",
     lambda e: e["x"].mul(e["x"]).eq(0).ne(1).lt(2).le(3).gt(-1).ge(0)),
    ("arith", "torch.logical_and(mask.bool(), mask.bool()).logical_or(mask.bool()).bitwise_xor(mask.bool())",
     lambda e: torch.logical_and(e["mask"].bool(), e["mask"].bool()).logical_or(e["mask"].bool())
     .bitwise_xor(e["mask"].bool())),
    ("arith", "x * torch.finfo(x.dtype).min", lambda e: e["x"] * torch.finfo(torch.float32).min),
    ("arith", "mask.logical_and(x[..., 0] > 0)", lambda e: e["mask"].logical_and(e["x"][..., 0] > 0)),
    ("arith", "torch.logical_or(mask, x[..., 0] > 0)", lambda e: torch.logical_or(e["mask"], e["x"][..., 0] > 0)),
    ("arith", "x.logical_xor(x)", lambda e: e["x"].logical_xor(e["x"])),
    ("arith", "x.add(x, alpha=2)", lambda e: e["x"].add(e["x"], alpha=2)),
    ("arith", "torch.sub(x, 1, alpha=0.5)", lambda e: torch.sub(e["x"], 1, alpha=0.5)),
    # 2. casts
    ("cast", "mask.float()", lambda e: e["mask"].float()),
    ("cast", "x.long()", lambda e: e["x"].long()),
    ("cast", "x.int().bool()", lambda e: e["x"].int().bool()),
    ("cast", "x.half().double()", lambda e: e["x"].half().double()),
    ("cast", "x.to(torch.float16)", lambda e: e["x"].to(torch.float16)),
    ("cast", "mask.to(dtype=torch.float32)", lambda e: e["mask"].to(dtype=torch.float32)),
    ("cast", "mask.to(x.dtype)", lambda e: e["mask"].to(e["x"].dtype)),
    ("cast", "mask.to(x)", lambda e: e["mask"].to(e["x"])),
    ("cast", "mask.to(x.device)", lambda e: e["mask"].to(e["x"].device)),
    ("cast", "mask.type_as(x)", lambda e: e["mask"].type_as(e["x"])),
    ("cast", "mask.type(torch.float64)", lambda e: e["mask"].type(torch.float64)),
    ("cast", "lengths.cpu()", lambda e: e["lengths"].cpu()),
    # 3. matmul, einsum, softmax
    ("matmul", "x @ x.transpose(-1, -2)", lambda e: e["x"] @ e["x"].transpose(-1, -2)),
    ("matmul", "x @ w", lambda e: e["x"] @ e["w"]),
    ("matmul", "x @ v", lambda e: e["x"] @ e["v"]),
    ("matmul", "torch.matmul(x, x.mT) / math.sqrt(8)", lambda e: torch.matmul(e["x"], e["x"].mT) / math.sqrt(8)),
    ("matmul", "x.matmul(w)", lambda e: e["x"].matmul(e["w"])),
    ("matmul", "torch.bmm(x, w)", lambda e: torch.bmm(e["x"], e["w"])),
    ("matmul", "x.bmm(w)", lambda e: e["x"].bmm(e["w"])),
    ("matmul", "x[0].mm(w[0])", lambda e: e["x"][0].mm(e["w"][0])),
    ("matmul", "torch.mm(x[0], x[0].t())", lambda e: torch.mm(e["x"][0], e["x"][0].t())),
    ("matmul", "torch.baddbmm(x @ x.mT, x, x.mT, beta=0.5, alpha=0.1)",
     lambda e: torch.baddbmm(e["x"] @ e["x"].mT, e["x"], e["x"].mT, beta=0.5, alpha=0.1)),
    ("matmul", "F.scaled_dot_product_attention(x, x, x[..., :3])",
     lambda e: F.scaled_dot_product_attention(e["x"], e["x"], e["x"][..., :3])),
    ("matmul", "torch.einsum('bld,bmd->blm', x, x)", lambda e: torch.einsum("bld,bmd->blm", e["x"], e["x"])),
    ("matmul", "torch.einsum('bld,bdk->blk', [x, w])", lambda e: torch.einsum("bld,bdk->blk", e["x"], e["w"])),
    ("matmul", "torch.einsum('bld->bd', x)", lambda e: torch.einsum("bld->bd", e["x"])),
    ("matmul", "torch.einsum('...d,d->...', x, v)", lambda e: torch.einsum("...d,d->...", e["x"], e["v"])),
    ("softmax", "torch.softmax(x, dim=-1)", lambda e: torch.softmax(e["x"], dim=-1)),
    ("softmax", "F.softmax(x, dim=1)", lambda e: F.softmax(e["x"], dim=1)),
    ("softmax", "x.softmax(-1)", lambda e: e["x"].softmax(-1)),
    ("softmax", "nn.functional.softmax(x, dim=-1)", lambda e: torch.nn.functional.softmax(e["x"], dim=-1)),
    ("softmax", "torch.nn.functional.softmax(x, -1, dtype=torch.float64)",
     lambda e: F.softmax(e["x"], -1, dtype=torch.float64)),
    ("softmax", "torch.log_softmax(x, -1)", lambda e: torch.log_softmax(e["x"], -1)),
    ("softmax", "F.log_softmax(x, dim=-1)", lambda e: F.log_softmax(e["x"], dim=-1)),
    ("softmax", "x.log_softmax(dim=2)", lambda e: e["x"].log_softmax(dim=2)),
    # 4. size tuples
    ("sizes", "x.view(*x.shape[:-1], 2, 4)", lambda e: e["x"].view(2, 5, 2, 4)),
    ("sizes", "x.view(x.size()[:-1] + (2, 4))", lambda e: e["x"].view(2, 5, 2, 4)),
    ("sizes", "x.reshape(x.shape[:2] + (-1,))", lambda e: e["x"].reshape(2, 5, -1)),
    ("sizes", "x.new_zeros(x.shape[:2])", lambda e: e["x"].new_zeros(2, 5)),
    ("sizes", "x.new_ones(x.size(0), 3)", lambda e: e["x"].new_ones(2, 3)),
    ("sizes", "x.new_full((2, 3), 0.5)", lambda e: e["x"].new_full((2, 3), 0.5)),
    ("sizes", "mask.new_tensor([[1, 0], [0, 1]])", lambda e: e["mask"].new_tensor([[1, 0], [0, 1]])),
    ("sizes", "x.reshape(*x.size()[1:], -1)", lambda e: e["x"].reshape(5, 8, -1)),
    ("sizes", "x.flatten(0, 1).view(x.size(0), x.size(1), -1)", lambda e: e["x"].flatten(0, 1).view(2, 5, -1)),
    ("sizes", "x[:1, :1, :1].reshape(())", lambda e: e["x"][:1, :1, :1].reshape(())),
    ("sizes", "torch.reshape(x[:1, :1, :1], ())", lambda e: torch.reshape(e["x"][:1, :1, :1], ())),
    ("sizes", "x.view(x.numel())", lambda e: e["x"].view(80)),
    ("sizes", "x.view(x.size(0), x.dim() + 2, -1)", lambda e: e["x"].view(2, 5, -1)),
    # 5. spellings and keywords
    ("spelling", "x.reshape(shape=(2, -1))", lambda e: e["x"].reshape(shape=(2, -1))),
    ("spelling", "x.swapaxes(axis0=1, axis1=2)", lambda e: e["x"].swapaxes(axis0=1, axis1=2)),
    ("spelling", "x.permute(dims=(0, 2, 1))", lambda e: e["x"].permute(dims=(0, 2, 1))),
    ("spelling", "x.sum(axis=1)", lambda e: e["x"].sum(axis=1)),
    ("spelling", "x.mean(dim=(1, 2), keepdim=True)", lambda e: e["x"].mean(dim=(1, 2), keepdim=True)),
    ("spelling", "x.sum(1, dtype=torch.float64)", lambda e: e["x"].sum(1, dtype=torch.float64)),
    ("spelling", "torch.transpose(x, 1, 2)", lambda e: torch.transpose(e["x"], 1, 2)),
    ("spelling", "torch.flatten(x, start_dim=1)", lambda e: torch.flatten(e["x"], start_dim=1)),
    # 6. indexing
    ("index", "x[:, [0, 2]]", lambda e: e["x"][:, [0, 2]]),
    ("index", "x[mask.bool()]", lambda e: e["x"][e["mask"].bool()]),
    ("index", "x[mask == 1]", lambda e: e["x"][e["mask"] == 1]),
    ("index", "x[torch.arange(x.shape[0]), lengths - 1]", lambda e: e["x"][torch.arange(2), e["lengths"] - 1]),
    ("index", "x[:, idx[0]]", lambda e: e["x"][:, e["idx"][0]]),
    ("index", "x[:, idx]", lambda e: e["x"][:, e["idx"]]),
    ("index", "h_n[-1]", lambda e: e["h_n"][-1]),
    ("index", "x[..., None, :4]", lambda e: e["x"][..., None, :4]),
    ("index", "x[:, mask[0].bool()]", lambda e: e["x"][:, e["mask"][0].bool()]),
    # 7. the family-7 ops
    ("f7", "x.norm(dim=-1)", lambda e: e["x"].norm(dim=-1)),
    ("f7", "x.norm(p=1, dim=-1, keepdim=True)", lambda e: e["x"].norm(p=1, dim=-1, keepdim=True)),
    ("f7", "torch.norm(x)", lambda e: torch.norm(e["x"])),
    ("f7", "torch.linalg.vector_norm(x, dim=-1)", lambda e: torch.linalg.vector_norm(e["x"], dim=-1)),
    ("f7", "torch.linalg.norm(x, dim=-1)", lambda e: torch.linalg.norm(e["x"], dim=-1)),
    ("f7", "F.normalize(x, dim=-1)", lambda e: F.normalize(e["x"], dim=-1)),
    ("f7", "F.normalize(x, p=2, dim=1)", lambda e: F.normalize(e["x"], p=2, dim=1)),
    ("f7", "F.layer_norm(x, (8,))", lambda e: F.layer_norm(e["x"], (8,))),
    ("f7", "F.cosine_similarity(x, x.flip(1), dim=-1)", lambda e: F.cosine_similarity(e["x"], e["x"].flip(1), dim=-1)),
    ("f7", "F.one_hot(idx, num_classes=6)", lambda e: F.one_hot(e["idx"], num_classes=6)),
    ("f7", "F.one_hot(idx)", lambda e: F.one_hot(e["idx"])),
    ("f7", "torch.zeros_like(x)", lambda e: torch.zeros_like(e["x"])),
    ("f7", "torch.ones_like(mask, dtype=torch.float32)", lambda e: torch.ones_like(e["mask"], dtype=torch.float32)),
    ("f7", "torch.full_like(x, 7.0)", lambda e: torch.full_like(e["x"], 7.0)),
    ("f7", "x.argmax(dim=-1)", lambda e: e["x"].argmax(dim=-1)),
    ("f7", "torch.argmin(x, dim=1, keepdim=True)", lambda e: torch.argmin(e["x"], dim=1, keepdim=True)),
    ("f7", "x.argmax()", lambda e: e["x"].argmax()),
    ("f7", "x.topk(3, dim=-1).values", lambda e: e["x"].topk(3, dim=-1).values),
    ("f7", "torch.topk(x, 2)[1]", lambda e: torch.topk(e["x"], 2)[1]),
    ("f7", "x.topk(2, dim=1, largest=False).indices", lambda e: e["x"].topk(2, dim=1, largest=False).indices),
    ("f7", "x.sort(dim=-1, descending=True).values", lambda e: e["x"].sort(dim=-1, descending=True).values),
    ("f7", "x.argsort(dim=1)", lambda e: e["x"].argsort(dim=1)),
    ("f7", "x.gather(1, idx.unsqueeze(-1).expand(-1, -1, 8))",
     lambda e: e["x"].gather(1, e["idx"].unsqueeze(-1).expand(-1, -1, 8))),
    ("f7", "torch.gather(x, 2, idx[:, :, None])", lambda e: torch.gather(e["x"], 2, e["idx"][:, :, None])),
    ("f7", "x.index_select(1, idx[0])", lambda e: e["x"].index_select(1, e["idx"][0])),
    ("f7", "torch.index_select(x, 2, torch.tensor([0, 7]))",
     lambda e: torch.index_select(e["x"], 2, torch.tensor([0, 7]))),
    ("f7", "x.repeat_interleave(2, dim=1)", lambda e: e["x"].repeat_interleave(2, dim=1)),
    ("f7", "x.repeat_interleave(lengths, dim=0)", lambda e: e["x"].repeat_interleave(e["lengths"], dim=0)),
    ("f7", "torch.repeat_interleave(lengths)", lambda e: torch.repeat_interleave(e["lengths"])),
    ("f7", "torch.where(mask.bool().unsqueeze(-1), x, 0.0)",
     lambda e: torch.where(e["mask"].bool().unsqueeze(-1), e["x"], 0.0)),
    ("f7", "torch.where(x > 0, x, x * 0.1)", lambda e: torch.where(e["x"] > 0, e["x"], e["x"] * 0.1)),
    ("f7", "torch.where(mask == 0)[1]", lambda e: torch.where(e["mask"] == 0)[1]),  # one argument: the indices
    ("f7", "torch.where(condition=mask.bool())[0]", lambda e: torch.where(e["mask"].bool())[0]),
    # the tuple of one-argument torch.where / nonzero(as_tuple=True) as the whole index: one index tensor per dim
    ("f7", "x[torch.where(mask == 1)]", lambda e: e["x"][torch.where(e["mask"] == 1)]),
    ("f7", "x[torch.where(x[..., 0] > 0)]", lambda e: e["x"][torch.where(e["x"][..., 0] > 0)]),
    ("f7", "x[torch.nonzero(mask, as_tuple=True)].sum(-1)",
     lambda e: e["x"][torch.nonzero(e["mask"], as_tuple=True)].sum(-1)),
    ("f7", "x.transpose(0, 1)[mask.T.nonzero(as_tuple=True)]",
     lambda e: e["x"].transpose(0, 1)[e["mask"].T.nonzero(as_tuple=True)]),
    ("f7", "x[torch.where(x > 0)]", lambda e: e["x"][torch.where(e["x"] > 0)]),  # three index tensors
    # Tensor.where(condition, other) is torch.where(condition, self, other)
    ("f7", "x.where(x > 0, 0.0)", lambda e: e["x"].where(e["x"] > 0, 0.0)),
    ("f7", "x.where(condition=mask.bool().unsqueeze(-1), other=x * 2)",
     lambda e: e["x"].where(e["mask"].bool().unsqueeze(-1), e["x"] * 2)),
    ("f7", "x.where(mask.bool()[..., None], torch.zeros_like(x)).mean(1)",
     lambda e: e["x"].where(e["mask"].bool()[..., None], torch.zeros_like(e["x"])).mean(1)),
    ("f7", "x.masked_fill(~mask.bool().unsqueeze(-1), 0.0)",
     lambda e: e["x"].masked_fill(~e["mask"].bool().unsqueeze(-1), 0.0)),
    ("f7", "torch.masked_fill(x, x < 0, 0)", lambda e: torch.masked_fill(e["x"], e["x"] < 0, 0)),
    ("f7", "x.masked_select(x > 0)", lambda e: e["x"].masked_select(e["x"] > 0)),
    ("f7", "mask.nonzero()", lambda e: e["mask"].nonzero()),
    ("f7", "torch.nonzero(mask)", lambda e: torch.nonzero(e["mask"])),
    ("f7", "mask.unsqueeze(-1).expand_as(x)", lambda e: e["mask"].unsqueeze(-1).expand_as(e["x"])),
    ("f7", "x.flatten(1).view_as(x)", lambda e: e["x"].flatten(1).view_as(e["x"])),
    ("f7", "x.transpose(1, 2).reshape_as(x)", lambda e: e["x"].transpose(1, 2).reshape_as(e["x"])),
    ("f7", "x.unbind(1)[0]", lambda e: e["x"].unbind(1)[0]),
    ("f7", "torch.unbind(h_n)[-1]", lambda e: torch.unbind(e["h_n"])[-1]),
    ("f7", "x.max(dim=1).values", lambda e: e["x"].max(dim=1).values),
    ("f7", "x.max(1)[1]", lambda e: e["x"].max(1)[1]),
    ("f7", "x.min(dim=-1, keepdim=True).indices", lambda e: e["x"].min(dim=-1, keepdim=True).indices),
    ("f7", "torch.max(x, 1)[0]", lambda e: torch.max(e["x"], 1)[0]),
    ("f7", "x.max()", lambda e: e["x"].max()),
    ("f7", "torch.min(x)", lambda e: torch.min(e["x"])),
    ("f7", "x.max(x.flip(1))", lambda e: e["x"].max(e["x"].flip(1))),
    ("f7", "x[0].t()", lambda e: e["x"][0].t()),
    ("f7", "torch.t(x[0])", lambda e: torch.t(e["x"][0])),
    ("f7", "v.T", lambda e: e["v"].T),
    ("f7", "x[0, 0, 0].mT", lambda e: e["x"][0, 0, 0].mT),
    ("f7", "x.flip(1)", lambda e: e["x"].flip(1)),
    ("f7", "torch.flip(x, dims=(1, 2))", lambda e: torch.flip(e["x"], dims=(1, 2))),
    ("f7", "x.roll(1, dims=1)", lambda e: e["x"].roll(1, dims=1)),
    ("f7", "torch.roll(x, shifts=(1, 2), dims=(1, 2))", lambda e: torch.roll(e["x"], shifts=(1, 2), dims=(1, 2))),
    ("f7", "x.roll(3)", lambda e: e["x"].roll(3)),
    ("f7", "x.unfold(1, 3, 1)", lambda e: e["x"].unfold(1, 3, 1)),
    ("f7", "F.adaptive_avg_pool1d(x, 4)", lambda e: F.adaptive_avg_pool1d(e["x"], 4)),
    ("f7", "F.adaptive_max_pool1d(x, 2)", lambda e: F.adaptive_max_pool1d(e["x"], 2)),
    ("f7", "F.adaptive_max_pool1d(x, 2, return_indices=True)[1]",
     lambda e: F.adaptive_max_pool1d(e["x"], 2, return_indices=True)[1]),
    ("f7", "F.max_pool1d(x, 2)", lambda e: F.max_pool1d(e["x"], 2)),
    ("f7", "F.max_pool1d(x.transpose(1, 2), kernel_size=5).squeeze(-1)",
     lambda e: F.max_pool1d(e["x"].transpose(1, 2), kernel_size=5).squeeze(-1)),
    ("f7", "torch.max_pool1d(x, 3, stride=1, padding=1)", lambda e: torch.max_pool1d(e["x"], 3, stride=1, padding=1)),
    ("f7", "F.avg_pool1d(x, 2, stride=2)", lambda e: F.avg_pool1d(e["x"], 2, stride=2)),
    ("f7", "F.avg_pool1d(x, 3, 1, 1, count_include_pad=False)",
     lambda e: F.avg_pool1d(e["x"], 3, 1, 1, count_include_pad=False)),
    ("f7", "x.tensor_split(3, dim=2)[2]", lambda e: e["x"].tensor_split(3, dim=2)[2]),
    ("f7", "torch.tensor_split(x, (1, 4), dim=1)[1]", lambda e: torch.tensor_split(e["x"], (1, 4), dim=1)[1]),
    ("f7", 'repeat(x, "b l h -> b l h r", r=2)', lambda e: einops.repeat(e["x"], "b l h -> b l h r", r=2)),
    ("f7", 'einops.repeat(x[:, 0], "b h -> b n h", n=3)', lambda e: einops.repeat(e["x"][:, 0], "b h -> b n h", n=3)),
    ("f7", 'einops.rearrange(x, "b l h -> b h l")', lambda e: einops.rearrange(e["x"], "b l h -> b h l")),
    ("f7", 'einops.reduce(x, "b l h -> b h", "max")', lambda e: einops.reduce(e["x"], "b l h -> b h", "max")),
    ("f7", "mask.cumsum(1)", lambda e: e["mask"].cumsum(1)),
    ("f7", "torch.cumsum(mask, dim=1, dtype=torch.int32)", lambda e: torch.cumsum(e["mask"], dim=1, dtype=torch.int32)),
    ("f7", "x.logsumexp(dim=-1)", lambda e: e["x"].logsumexp(dim=-1)),
    ("f7", "x.std(dim=1)", lambda e: e["x"].std(dim=1)),
    ("f7", "torch.var(x, dim=-1, keepdim=True)", lambda e: torch.var(e["x"], dim=-1, keepdim=True)),
    ("f7", "x.prod(dim=1)", lambda e: e["x"].prod(dim=1)),
    ("f7", "x.prod()", lambda e: e["x"].prod()),
    ("f7", "mask.bool().any(dim=1)", lambda e: e["mask"].bool().any(dim=1)),
    ("f7", "mask.bool().all()", lambda e: e["mask"].bool().all()),
    ("f7", "torch.ones(5, 5).tril()", lambda e: torch.ones(5, 5).tril()),
    ("f7", "torch.triu(x[0], diagonal=1)", lambda e: torch.triu(e["x"][0], diagonal=1)),
    # constructors
    ("ctor", "torch.zeros(2, x.size(0), 8)", lambda e: torch.zeros(2, 2, 8)),
    ("ctor", "torch.zeros((2, 3), dtype=torch.long)", lambda e: torch.zeros((2, 3), dtype=torch.long)),
    ("ctor", "torch.ones(x.shape[:2], device=x.device)", lambda e: torch.ones((2, 5))),
    ("ctor", "torch.full((2, 3), float('-inf'))", lambda e: torch.full((2, 3), float("-inf"))),
    ("ctor", "torch.arange(x.size(1))", lambda e: torch.arange(5)),
    ("ctor", "torch.arange(2, 10, 3)", lambda e: torch.arange(2, 10, 3)),
    ("ctor", "torch.arange(5, dtype=torch.float32) / 5", lambda e: torch.arange(5, dtype=torch.float32) / 5),
    ("ctor", "torch.eye(4)", lambda e: torch.eye(4)),
    # random constructors draw from their own generator seeded with CRC-32 of "randn(2, 3)" (core.engine.opdef)
    ("ctor", "torch.randn(2, 3)", lambda e: torch.randn(2, 3, generator=_gen(b"randn(2, 3)"))),
    ("ctor", "torch.randn((2, x.size(1)))", lambda e: torch.randn((2, 5), generator=_gen(b"randn(2, 5)"))),
    (
        "ctor",
        "torch.rand(x.shape[:2], dtype=torch.float64)",
        lambda e: torch.rand((2, 5), generator=_gen(b"rand(2, 5)"), dtype=torch.float64),
    ),
    ("ctor", "torch.eye(2, 3)", lambda e: torch.eye(2, 3)),
    ("ctor", "torch.tensor([0, 2, 4])", lambda e: torch.tensor([0, 2, 4])),
    ("ctor", "torch.tensor([[1.0, 0.0], [0.5, 0.5]])", lambda e: torch.tensor([[1.0, 0.0], [0.5, 0.5]])),
    # 8. packed sequences
    ("packed", "torch.nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True).data",
     lambda e: pack_padded_sequence(e["x"], e["lengths"].cpu(), batch_first=True).data),
    ("packed", "torch.nn.utils.rnn.pack_padded_sequence(x, lengths, True, enforce_sorted=False).batch_sizes",
     lambda e: pack_padded_sequence(e["x"], e["lengths"], batch_first=True, enforce_sorted=False).batch_sizes),
    ("packed", "torch.nn.utils.rnn.pack_padded_sequence(x, lengths, True, False).sorted_indices",
     lambda e: pack_padded_sequence(e["x"], e["lengths"], True, False).sorted_indices),
    ("packed", "torch.nn.utils.rnn.pack_padded_sequence(x, lengths, True, False).unsorted_indices",
     lambda e: pack_padded_sequence(e["x"], e["lengths"], True, False).unsorted_indices),
    ("packed", "torch.nn.utils.rnn.pad_packed_sequence("
               "torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True), batch_first=True)[0]",
     lambda e: pad_packed_sequence(pack_padded_sequence(e["x"], e["lengths"], batch_first=True), batch_first=True)[0]),
    # the shape ops (the first language) in other spellings
    ("shape", "x.unflatten(-1, (2, -1)).movedim(-1, 1).contiguous().squeeze()",
     lambda e: e["x"].unflatten(-1, (2, -1)).movedim(-1, 1).contiguous().squeeze()),
    ("shape", "x.chunk(2, dim=-1)[1].narrow(1, 1, 2).select(0, 1)",
     lambda e: e["x"].chunk(2, dim=-1)[1].narrow(1, 1, 2).select(0, 1)),
    ("shape", "x.split([3, 5], dim=-1)[0].expand(2, -1, -1, -1).repeat(1, 1, 2, 1)",
     lambda e: e["x"].split([3, 5], dim=-1)[0].expand(2, -1, -1, -1).repeat(1, 1, 2, 1)),
    ("shape", "x.unsqueeze(0).mean(0).sum(-1).amax(0).amin()",
     lambda e: e["x"].unsqueeze(0).mean(0).sum(-1).amax(0).amin()),
    ("shape", "torch.stack([x, x], dim=1).view(2, 10, 8)",
     lambda e: torch.stack([e["x"], e["x"]], dim=1).view(2, 10, 8)),
    ("shape", 'reduce(F.pad(x, (0, 0, 0, 1)), "b (l two) h -> b l h", "mean", two=2)',
     lambda e: einops.reduce(F.pad(e["x"], (0, 0, 0, 1)), "b (l two) h -> b l h", "mean", two=2)),
    ("shape", "torch.cat([x, x], dim=-1).permute(2, 0, 1)", lambda e: torch.cat([e["x"], e["x"]], -1).permute(2, 0, 1)),
    ("shape", "x.transpose(0, 1).reshape(5, 16)", lambda e: e["x"].transpose(0, 1).reshape(5, 16)),
]  # fmt: skip


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.is_floating_point:
        return torch.allclose(a, b, equal_nan=True, atol=1e-6)
    return torch.equal(a, b)


@pytest.mark.parametrize(("family", "src", "ref"), TABLE, ids=[f"{f}: {s}" for f, s, _ in TABLE])
def test_step_matches_plain_torch(family, src, ref) -> None:
    import warnings

    env = make_env()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = ref(env)
    stmt = parse_statement(src)
    got = run_statement(stmt, env).value
    assert _same(got, expected), (got, expected)
    assert got.stride() == expected.stride(), "strides as torch's"
    try:
        predicted = predict_statement(stmt, env).value
    except DataDependent:
        assert family in ("index", "f7", "packed"), f"{src} should predict"
    else:
        assert tuple(predicted.shape) == tuple(expected.shape) and predicted.stride() == expected.stride()
        assert predicted.dtype == expected.dtype


@pytest.mark.parametrize(("family", "src", "ref"), TABLE, ids=[f"{f}: {s}" for f, s, _ in TABLE])
def test_to_source_round_trip_and_describe(family, src, ref) -> None:
    env = make_env()
    expr = parse_expr(src)
    try:
        ops = bind(expr, env)
        again = lambda text: bind(parse_expr(text), env)  # noqa: E731
    except DataDependent:  # an operand's size depends on values (x[torch.where(m)]): bound by the real run
        assert family == "f7", f"{src} should bind on meta"
        ops = tuple(op for op, _ in run_statement(parse_statement(src), env).results)
        again = lambda text: tuple(op for op, _ in run_statement(parse_statement(text), env).results)  # noqa: E731
    text = to_source(ops, expr.root)
    assert again(text) == ops, text
    for op in ops:
        words = describe(op)
        assert words and "\n" not in words and "{" not in words


def test_every_op_of_the_language_is_in_the_table() -> None:
    from core.lab.compare import op_names

    covered: set[str] = set()
    for _, src, _ in TABLE:
        op_names(parse_expr(src), covered)
        expr = parse_expr(src)
        try:
            ops = bind(expr, make_env())
        except DataDependent:  # x[torch.where(m)]: its operand binds on the real run
            ops = tuple(op for op, _ in run_statement(parse_statement(src), make_env()).results)
        for op in ops:
            for arg in op.args:
                for item in arg if isinstance(arg, tuple) else (arg,):
                    for sub in getattr(item, "ops", ()):
                        covered.add(sub.name)
    assert set(OP_NAMES) - covered == set()
