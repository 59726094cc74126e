"""Real-world NLP idioms (transformers' modeling code, sentence-transformers, classic LSTM/CNN classifiers)
written as steps over named tensors, each with the same computation in plain PyTorch.

Python variables of the original code (``self.num_heads``, ``head_dim``) are written as the numbers they hold
here or read from a tensor's size, as a user types them into the tool; everything else is verbatim.
``measure()`` runs each idiom: parse -> predict (meta) -> run, and counts supported / refused / disagreements /
crashes (``PYTHONPATH=. .venv/bin/python tests/engine/idioms.py`` prints the figures).
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any

import einops
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from core.engine.expr import DataDependent, parse_statement, predict_statement, run_statement
from core.errors import ExpressionRefused, ShapeError

B, L, H, NH, D = 2, 7, 32, 4, 8


def make_env() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0]])
    return {
        "x": torch.randn(B, L, H, generator=g),
        "mask": mask,
        "attention_mask": mask,
        "input_ids": torch.tensor([[101, 7, 8, 9, 10, 11, 102], [101, 5, 6, 102, 0, 0, 0]]),
        "lengths": mask.sum(1),
        "q": torch.randn(B, NH, L, D, generator=g),
        "k": torch.randn(B, NH, L, D, generator=g),
        "v": torch.randn(B, NH, L, D, generator=g),
        "scores": torch.randn(B, NH, L, L, generator=g),
        "out": torch.randn(B, L, 16, generator=g),
        "h_n": torch.randn(2, B, 16, generator=g),
        "c_n": torch.randn(2, B, 16, generator=g),
        "logits": torch.randn(B, 5, generator=g),
        "labels": torch.tensor([3, 1]),
    }


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def _masked_mean(e: dict) -> torch.Tensor:
    m = e["mask"].unsqueeze(-1).expand(e["x"].size()).float()
    return torch.sum(e["x"] * m, 1) / torch.clamp(m.sum(1), min=1e-9)


def _lstm_attention(e: dict) -> torch.Tensor:
    w = torch.bmm(e["out"], e["h_n"][-1].unsqueeze(2)).squeeze(2)
    a = torch.softmax(w, 1)
    return torch.bmm(e["out"].transpose(1, 2), a.unsqueeze(2)).squeeze(2)


_E = "e"
# (where it comes from, step or steps, plain torch)
IDIOMS: list[tuple[str, Any, Any]] = [
    # --- attention (BERT / RoBERTa / GPT-2 / T5 / Llama modeling code)
    (
        "attention",
        "q @ k.transpose(-1, -2) / math.sqrt(q.size(-1))",
        lambda e: e["q"] @ e["k"].transpose(-1, -2) / math.sqrt(D),
    ),
    ("attention", "torch.matmul(q, k.transpose(-1, -2))", lambda e: torch.matmul(e["q"], e["k"].transpose(-1, -2))),
    ("attention", "scores / math.sqrt(8)", lambda e: e["scores"] / math.sqrt(8)),
    ("attention", "q * q.size(-1) ** -0.5", lambda e: e["q"] * D**-0.5),
    (
        "attention",
        "scores + (1.0 - mask[:, None, None, :]) * -10000.0",
        lambda e: e["scores"] + (1.0 - e["mask"][:, None, None, :]) * -10000.0,
    ),
    (
        "attention",
        "(1.0 - mask[:, None, None, :].to(scores.dtype)) * torch.finfo(scores.dtype).min",
        lambda e: (1.0 - e["mask"][:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min,
    ),
    (
        "attention",
        "scores.masked_fill(mask[:, None, None, :] == 0, float('-inf'))",
        lambda e: e["scores"].masked_fill(e["mask"][:, None, None, :] == 0, float("-inf")),
    ),
    (
        "attention",
        "scores.masked_fill(~mask.bool()[:, None, None, :], -1e9)",
        lambda e: e["scores"].masked_fill(~e["mask"].bool()[:, None, None, :], -1e9),
    ),
    ("attention", "nn.functional.softmax(scores, dim=-1)", lambda e: F.softmax(e["scores"], dim=-1)),
    (
        "attention",
        "torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)",
        lambda e: torch.softmax(e["scores"], dim=-1, dtype=torch.float32).to(e["q"].dtype),
    ),
    ("attention", "scores.softmax(-1) @ v", lambda e: e["scores"].softmax(-1) @ e["v"]),
    (
        "attention",
        "torch.matmul(torch.softmax(scores, -1), v)",
        lambda e: torch.matmul(torch.softmax(e["scores"], -1), e["v"]),
    ),
    ("attention", "q.permute(0, 2, 1, 3).contiguous()", lambda e: e["q"].permute(0, 2, 1, 3).contiguous()),
    (
        "attention",
        "q.transpose(1, 2).reshape(q.size(0), q.size(2), -1)",
        lambda e: e["q"].transpose(1, 2).reshape(B, L, -1),
    ),
    (
        "attention",
        ["ctx = q.permute(0, 2, 1, 3).contiguous()", "ctx.view(ctx.size()[:-2] + (32,))"],
        lambda e: e["q"].permute(0, 2, 1, 3).contiguous().view(B, L, 32),
    ),
    (
        "attention",
        "x.view(x.size()[:-1] + (4, 8)).permute(0, 2, 1, 3)",
        lambda e: e["x"].view(B, L, 4, 8).permute(0, 2, 1, 3),
    ),
    ("attention", "x.view(x.size(0), -1, 4, 8).transpose(1, 2)", lambda e: e["x"].view(B, -1, 4, 8).transpose(1, 2)),
    ("attention", "x.view(*x.shape[:-1], 4, 8)", lambda e: e["x"].view(B, L, 4, 8)),
    (
        "attention",
        "x.view(x.shape[0], x.shape[1], 4, -1).transpose(1, 2)",
        lambda e: e["x"].view(B, L, 4, -1).transpose(1, 2),
    ),
    (
        "attention",
        "rearrange(x, 'b l (h d) -> b h l d', h=4)",
        lambda e: einops.rearrange(e["x"], "b l (h d) -> b h l d", h=4),
    ),
    ("attention", "rearrange(q, 'b h l d -> b l (h d)')", lambda e: einops.rearrange(e["q"], "b h l d -> b l (h d)")),
    ("attention", "torch.einsum('bhld,bhmd->bhlm', q, k)", lambda e: torch.einsum("bhld,bhmd->bhlm", e["q"], e["k"])),
    (
        "attention",
        "torch.einsum('bhlm,bhmd->bhld', scores.softmax(-1), v)",
        lambda e: torch.einsum("bhlm,bhmd->bhld", e["scores"].softmax(-1), e["v"]),
    ),
    (
        "attention",
        "torch.bmm(q.flatten(0, 1), k.flatten(0, 1).transpose(1, 2))",
        lambda e: torch.bmm(e["q"].flatten(0, 1), e["k"].flatten(0, 1).transpose(1, 2)),
    ),
    ("attention", "scores.view(2 * 4, 7, 7)", lambda e: e["scores"].view(8, 7, 7)),
    (
        "attention",
        "torch.triu(torch.ones(7, 7), diagonal=1).bool()",
        lambda e: torch.triu(torch.ones(7, 7), diagonal=1).bool(),
    ),
    (
        "attention",
        "scores.masked_fill(torch.triu(torch.ones(7, 7, dtype=torch.bool), 1), float('-inf'))",
        lambda e: e["scores"].masked_fill(torch.triu(torch.ones(7, 7, dtype=torch.bool), 1), float("-inf")),
    ),
    ("attention", "torch.tril(torch.ones(x.size(1), x.size(1)))", lambda e: torch.tril(torch.ones(L, L))),
    (
        "attention",
        "mask[:, None, None, :].expand(-1, 4, 7, -1)",
        lambda e: e["mask"][:, None, None, :].expand(-1, 4, 7, -1),
    ),
    ("attention", "mask.unsqueeze(1).unsqueeze(2)", lambda e: e["mask"].unsqueeze(1).unsqueeze(2)),
    ("attention", "mask[:, None, :] * mask[:, :, None]", lambda e: e["mask"][:, None, :] * e["mask"][:, :, None]),
    (
        "attention",
        "attention_mask[:, None, None, :].to(dtype=x.dtype)",
        lambda e: e["attention_mask"][:, None, None, :].to(dtype=torch.float32),
    ),
    (
        "attention",
        "(1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min",
        lambda e: (1.0 - e["attention_mask"][:, None, None, :].float()) * torch.finfo(torch.float32).min,
    ),
    (
        "attention",
        "torch.where(mask[:, None, None, :].bool(), scores, torch.finfo(scores.dtype).min)",
        lambda e: torch.where(e["mask"][:, None, None, :].bool(), e["scores"], torch.finfo(torch.float32).min),
    ),
    (
        "attention",
        "F.scaled_dot_product_attention(q, k, v)",
        lambda e: F.scaled_dot_product_attention(e["q"], e["k"], e["v"]),
    ),
    (
        "attention",
        "F.scaled_dot_product_attention(q, k, v, is_causal=True)",
        lambda e: F.scaled_dot_product_attention(e["q"], e["k"], e["v"], is_causal=True),
    ),
    (
        "attention",
        "F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :].bool())",
        lambda e: F.scaled_dot_product_attention(e["q"], e["k"], e["v"], attn_mask=e["mask"][:, None, None, :].bool()),
    ),
    (
        "attention",
        "scores - scores.amax(dim=-1, keepdim=True)",
        lambda e: e["scores"] - e["scores"].amax(dim=-1, keepdim=True),
    ),
    ("attention", "scores.max(dim=-1, keepdim=True).values", lambda e: e["scores"].max(dim=-1, keepdim=True).values),
    (
        "attention",
        "torch.exp(scores - scores.logsumexp(-1, keepdim=True))",
        lambda e: torch.exp(e["scores"] - e["scores"].logsumexp(-1, keepdim=True)),
    ),
    ("attention", "F.dropout(scores.softmax(-1), p=0.1, training=False)", lambda e: e["scores"].softmax(-1)),
    (
        "attention",
        "torch.baddbmm(scores.flatten(0, 1), q.flatten(0, 1), k.flatten(0, 1).mT)",
        lambda e: torch.baddbmm(e["scores"].flatten(0, 1), e["q"].flatten(0, 1), e["k"].flatten(0, 1).mT),
    ),
    # --- masks, positions, token types
    ("masks", "mask.sum(dim=1)", lambda e: e["mask"].sum(dim=1)),
    ("masks", "mask.sum(-1) - 1", lambda e: e["mask"].sum(-1) - 1),
    ("masks", "mask.long().sum(1)", lambda e: e["mask"].long().sum(1)),
    (
        "masks",
        "torch.cumsum(mask, dim=1).type_as(mask) * mask",
        lambda e: torch.cumsum(e["mask"], dim=1).type_as(e["mask"]) * e["mask"],
    ),
    (
        "masks",
        ["m = input_ids.ne(0).int()", "(torch.cumsum(m, dim=1).type_as(m) + 0) * m + 0"],
        lambda e: (
            torch.cumsum(e["input_ids"].ne(0).int(), dim=1).type_as(e["input_ids"].ne(0).int())
            * e["input_ids"].ne(0).int()
        ),
    ),
    ("masks", "input_ids.ne(0).int()", lambda e: e["input_ids"].ne(0).int()),
    ("masks", "input_ids != 0", lambda e: e["input_ids"] != 0),
    ("masks", "input_ids.eq(102)", lambda e: e["input_ids"].eq(102)),
    (
        "masks",
        "torch.arange(x.size(1)).unsqueeze(0).expand(x.size(0), -1)",
        lambda e: torch.arange(L).unsqueeze(0).expand(B, -1),
    ),
    (
        "masks",
        "torch.arange(7, dtype=torch.long, device=x.device)[None, :]",
        lambda e: torch.arange(7, dtype=torch.long)[None, :],
    ),
    ("masks", "torch.zeros_like(input_ids)", lambda e: torch.zeros_like(e["input_ids"])),
    ("masks", "input_ids.new_zeros(input_ids.shape)", lambda e: e["input_ids"].new_zeros(e["input_ids"].shape)),
    ("masks", "torch.ones(x.shape[:2], dtype=torch.long)", lambda e: torch.ones((B, L), dtype=torch.long)),
    ("masks", "mask.bool()", lambda e: e["mask"].bool()),
    ("masks", "~mask.bool()", lambda e: ~e["mask"].bool()),
    ("masks", "mask == 0", lambda e: e["mask"] == 0),
    (
        "masks",
        "mask.unsqueeze(-1).expand(x.size()).float()",
        lambda e: e["mask"].unsqueeze(-1).expand(e["x"].size()).float(),
    ),
    ("masks", "mask.unsqueeze(-1).expand_as(x)", lambda e: e["mask"].unsqueeze(-1).expand_as(e["x"])),
    ("masks", "mask[:, :, None]", lambda e: e["mask"][:, :, None]),
    ("masks", "lengths.max()", lambda e: e["lengths"].max()),
    (
        "masks",
        "torch.arange(7)[None, :] < lengths[:, None]",
        lambda e: torch.arange(7)[None, :] < e["lengths"][:, None],
    ),
    (
        "masks",
        "(torch.arange(x.size(1), device=x.device).expand(x.size(0), -1) < lengths.unsqueeze(1)).float()",
        lambda e: (torch.arange(L).expand(B, -1) < e["lengths"].unsqueeze(1)).float(),
    ),
    ("masks", "torch.clamp(mask.sum(1), min=1)", lambda e: torch.clamp(e["mask"].sum(1), min=1)),
    ("masks", "mask.sum(1).clamp(min=1e-9).unsqueeze(-1)", lambda e: e["mask"].sum(1).clamp(min=1e-9).unsqueeze(-1)),
    (
        "masks",
        "attention_mask.unsqueeze(1).repeat(1, 7, 1)",
        lambda e: e["attention_mask"].unsqueeze(1).repeat(1, 7, 1),
    ),
    # --- pooling (sentence-transformers, classifiers)
    (
        "pooling",
        ["m = mask.unsqueeze(-1).expand(x.size()).float()", "torch.sum(x * m, 1) / torch.clamp(m.sum(1), min=1e-9)"],
        _masked_mean,
    ),
    (
        "pooling",
        "(x * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)",
        lambda e: (e["x"] * e["mask"].unsqueeze(-1)).sum(1) / e["mask"].sum(1, keepdim=True),
    ),
    (
        "pooling",
        "x.masked_fill(~mask.bool().unsqueeze(-1), float('-inf')).max(dim=1).values",
        lambda e: e["x"].masked_fill(~e["mask"].bool().unsqueeze(-1), float("-inf")).max(dim=1).values,
    ),
    (
        "pooling",
        "torch.max(x + (1 - mask.unsqueeze(-1)) * -1e9, 1)[0]",
        lambda e: torch.max(e["x"] + (1 - e["mask"].unsqueeze(-1)) * -1e9, 1)[0],
    ),
    ("pooling", "x[:, 0]", lambda e: e["x"][:, 0]),
    ("pooling", "x[:, 0, :]", lambda e: e["x"][:, 0, :]),
    ("pooling", "x[torch.arange(x.size(0)), lengths - 1]", lambda e: e["x"][torch.arange(B), e["lengths"] - 1]),
    (
        "pooling",
        "x[torch.arange(x.shape[0]), mask.sum(-1) - 1]",
        lambda e: e["x"][torch.arange(B), e["mask"].sum(-1) - 1],
    ),
    (
        "pooling",
        "x.gather(1, (lengths - 1).view(-1, 1, 1).expand(-1, 1, x.size(-1))).squeeze(1)",
        lambda e: e["x"].gather(1, (e["lengths"] - 1).view(-1, 1, 1).expand(-1, 1, H)).squeeze(1),
    ),
    ("pooling", "x.mean(dim=1)", lambda e: e["x"].mean(dim=1)),
    ("pooling", "torch.mean(x, 1)", lambda e: torch.mean(e["x"], 1)),
    ("pooling", "x.amax(1)", lambda e: e["x"].amax(1)),
    ("pooling", "x.max(dim=1)[0]", lambda e: e["x"].max(dim=1)[0]),
    ("pooling", "F.normalize(x[:, 0], p=2, dim=1)", lambda e: F.normalize(e["x"][:, 0], p=2, dim=1)),
    ("pooling", "torch.nn.functional.normalize(x.mean(1), dim=-1)", lambda e: F.normalize(e["x"].mean(1), dim=-1)),
    (
        "pooling",
        "x[:, 0] / x[:, 0].norm(dim=-1, keepdim=True)",
        lambda e: e["x"][:, 0] / e["x"][:, 0].norm(dim=-1, keepdim=True),
    ),
    ("pooling", "torch.cat([x[:, 0], x.mean(1)], dim=-1)", lambda e: torch.cat([e["x"][:, 0], e["x"].mean(1)], dim=-1)),
    ("pooling", "torch.stack([x[:, 0], x[:, -1]], dim=1)", lambda e: torch.stack([e["x"][:, 0], e["x"][:, -1]], dim=1)),
    (
        "pooling",
        "F.adaptive_max_pool1d(x.transpose(1, 2), 1).squeeze(-1)",
        lambda e: F.adaptive_max_pool1d(e["x"].transpose(1, 2), 1).squeeze(-1),
    ),
    (
        "pooling",
        "F.avg_pool1d(x.permute(0, 2, 1), kernel_size=x.size(1)).squeeze(-1)",
        lambda e: F.avg_pool1d(e["x"].permute(0, 2, 1), kernel_size=L).squeeze(-1),
    ),
    (
        "pooling",
        "F.max_pool1d(x.transpose(1, 2), x.size(1)).squeeze(2)",
        lambda e: F.max_pool1d(e["x"].transpose(1, 2), L).squeeze(2),
    ),
    ("pooling", "reduce(x, 'b l h -> b h', 'mean')", lambda e: einops.reduce(e["x"], "b l h -> b h", "mean")),
    # --- classification heads and losses by hand
    ("heads", "logits.argmax(dim=-1)", lambda e: e["logits"].argmax(dim=-1)),
    ("heads", "torch.argmax(logits, -1)", lambda e: torch.argmax(e["logits"], -1)),
    ("heads", "F.log_softmax(logits, dim=-1)", lambda e: F.log_softmax(e["logits"], dim=-1)),
    ("heads", "logits.softmax(-1).max(-1).values", lambda e: e["logits"].softmax(-1).max(-1).values),
    ("heads", "logits.topk(2, dim=-1).indices", lambda e: e["logits"].topk(2, dim=-1).indices),
    ("heads", "F.one_hot(labels, num_classes=5).float()", lambda e: F.one_hot(e["labels"], num_classes=5).float()),
    (
        "heads",
        "(logits.argmax(-1) == labels).float().mean()",
        lambda e: (e["logits"].argmax(-1) == e["labels"]).float().mean(),
    ),
    (
        "heads",
        "-F.log_softmax(logits, -1).gather(1, labels.unsqueeze(1)).squeeze(1)",
        lambda e: -F.log_softmax(e["logits"], -1).gather(1, e["labels"].unsqueeze(1)).squeeze(1),
    ),
    ("heads", "logits.view(-1, 5)", lambda e: e["logits"].view(-1, 5)),
    ("heads", "labels.view(-1)", lambda e: e["labels"].view(-1)),
    ("heads", "torch.sigmoid(logits) > 0.5", lambda e: torch.sigmoid(e["logits"]) > 0.5),
    (
        "heads",
        "logits - logits.logsumexp(dim=-1, keepdim=True)",
        lambda e: e["logits"] - e["logits"].logsumexp(dim=-1, keepdim=True),
    ),
    ("heads", "logits.type_as(x)", lambda e: e["logits"].type_as(e["x"])),
    ("heads", "labels.item()", lambda e: e["labels"][0]),
    # --- recurrent layers (LSTM / GRU classifiers, attention over LSTM outputs)
    ("rnn", "h_n[-1]", lambda e: e["h_n"][-1]),
    ("rnn", "torch.cat([h_n[-2], h_n[-1]], dim=1)", lambda e: torch.cat([e["h_n"][-2], e["h_n"][-1]], dim=1)),
    (
        "rnn",
        "torch.cat((h_n[-2, :, :], h_n[-1, :, :]), dim=1)",
        lambda e: torch.cat((e["h_n"][-2, :, :], e["h_n"][-1, :, :]), dim=1),
    ),
    ("rnn", "h_n.transpose(0, 1).reshape(h_n.size(1), -1)", lambda e: e["h_n"].transpose(0, 1).reshape(B, -1)),
    ("rnn", "out[:, -1, :]", lambda e: e["out"][:, -1, :]),
    ("rnn", "out[torch.arange(out.size(0)), lengths - 1]", lambda e: e["out"][torch.arange(B), e["lengths"] - 1]),
    ("rnn", "h_n.view(1, 2, 2, 16)[-1]", lambda e: e["h_n"].view(1, 2, 2, 16)[-1]),
    ("rnn", "out.sum(dim=1)", lambda e: e["out"].sum(dim=1)),
    (
        "rnn",
        [
            "w = torch.bmm(out, h_n[-1].unsqueeze(2)).squeeze(2)",
            "a = torch.softmax(w, 1)",
            "torch.bmm(out.transpose(1, 2), a.unsqueeze(2)).squeeze(2)",
        ],
        _lstm_attention,
    ),
    (
        "rnn",
        "torch.nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False).data",
        lambda e: pack_padded_sequence(e["x"], e["lengths"].cpu(), batch_first=True, enforce_sorted=False).data,
    ),
    (
        "rnn",
        [
            "packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)",
            "padded, lens = torch.nn.utils.rnn.pad_packed_sequence(packed, batch_first=True)",
        ],
        lambda e: pad_packed_sequence(
            pack_padded_sequence(e["x"], e["lengths"], batch_first=True, enforce_sorted=False), batch_first=True
        ),
    ),
    ("rnn", "torch.zeros(2, x.size(0), 16)", lambda e: torch.zeros(2, B, 16)),
    ("rnn", "out.max(dim=1)", lambda e: e["out"].max(dim=1)),
    # --- shapes for CNN / classifier code
    ("shapes", "x.transpose(1, 2)", lambda e: e["x"].transpose(1, 2)),
    ("shapes", "x.permute(0, 2, 1)", lambda e: e["x"].permute(0, 2, 1)),
    ("shapes", "x.unsqueeze(1)", lambda e: e["x"].unsqueeze(1)),
    ("shapes", "x.flatten(1)", lambda e: e["x"].flatten(1)),
    ("shapes", "x.reshape(x.size(0), -1)", lambda e: e["x"].reshape(B, -1)),
    ("shapes", "x.view(-1, x.size(-1))", lambda e: e["x"].view(-1, H)),
    ("shapes", "x.contiguous().view(-1, 32)", lambda e: e["x"].contiguous().view(-1, 32)),
    ("shapes", "a, b = torch.split(x, 16, dim=-1)", lambda e: torch.split(e["x"], 16, dim=-1)),
    ("shapes", "q1, k1 = x.chunk(2, dim=-1)", lambda e: e["x"].chunk(2, dim=-1)),
    ("shapes", "x.unbind(1)[0]", lambda e: e["x"].unbind(1)[0]),
    ("shapes", "x.new_zeros(x.size(0), 1, x.size(2))", lambda e: e["x"].new_zeros(B, 1, H)),
    (
        "shapes",
        "torch.cat([x.new_zeros(x.size(0), 1, x.size(2)), x[:, :-1]], dim=1)",
        lambda e: torch.cat([e["x"].new_zeros(B, 1, H), e["x"][:, :-1]], dim=1),
    ),
    ("shapes", "x.roll(shifts=1, dims=1)", lambda e: e["x"].roll(shifts=1, dims=1)),
    ("shapes", "x[:, 1:-1]", lambda e: e["x"][:, 1:-1]),
    ("shapes", "x.flip(dims=[1])", lambda e: e["x"].flip(dims=[1])),
    ("shapes", "x.repeat_interleave(2, dim=0)", lambda e: e["x"].repeat_interleave(2, dim=0)),
    (
        "shapes",
        "x.unsqueeze(1).expand(-1, 3, -1, -1).reshape(-1, 7, 32)",
        lambda e: e["x"].unsqueeze(1).expand(-1, 3, -1, -1).reshape(-1, 7, 32),
    ),
    ("shapes", "F.pad(x, (0, 0, 0, 1))", lambda e: F.pad(e["x"], (0, 0, 0, 1))),
    ("shapes", "nn.functional.pad(x, (0, 0, 1, 0), value=0.0)", lambda e: F.pad(e["x"], (0, 0, 1, 0), value=0.0)),
    ("shapes", "x.half()", lambda e: e["x"].half()),
    ("shapes", "x.to(torch.float16)", lambda e: e["x"].to(torch.float16)),
    ("shapes", "x.unfold(1, 3, 1)", lambda e: e["x"].unfold(1, 3, 1)),
    ("shapes", "x.index_select(1, torch.tensor([0, 2, 4]))", lambda e: e["x"].index_select(1, torch.tensor([0, 2, 4]))),
    ("shapes", "x[:, [0, 2, 4]]", lambda e: e["x"][:, [0, 2, 4]]),
    ("shapes", "x[mask.bool()]", lambda e: e["x"][e["mask"].bool()]),
    (
        "shapes",
        "x.masked_select(mask.bool().unsqueeze(-1)).view(-1, 32)",
        lambda e: e["x"].masked_select(e["mask"].bool().unsqueeze(-1)).view(-1, 32),
    ),
    ("shapes", "x[:, :, None, :] - x[:, None, :, :]", lambda e: e["x"][:, :, None, :] - e["x"][:, None, :, :]),
    ("shapes", "repeat(x[:, 0], 'b h -> b n h', n=3)", lambda e: einops.repeat(e["x"][:, 0], "b h -> b n h", n=3)),
    ("shapes", "rearrange(x, 'b l h -> (b l) h')", lambda e: einops.rearrange(e["x"], "b l h -> (b l) h")),
    ("shapes", "x.detach().cpu()", lambda e: e["x"].detach().cpu()),
    (
        "shapes",
        "x.masked_fill_(mask.unsqueeze(-1) == 0, 0.0)",
        lambda e: e["x"].masked_fill(e["mask"].unsqueeze(-1) == 0, 0.0),
    ),
    ("shapes", "x.new_tensor([1.0, 2.0])", lambda e: e["x"].new_tensor([1.0, 2.0])),
    # --- similarity, normalisation, activations, rotary embeddings
    (
        "misc",
        "F.cosine_similarity(x[:, 0].unsqueeze(1), x[:, 0].unsqueeze(0), dim=-1)",
        lambda e: F.cosine_similarity(e["x"][:, 0].unsqueeze(1), e["x"][:, 0].unsqueeze(0), dim=-1),
    ),
    ("misc", "x[:, 0] @ x[:, 0].T", lambda e: e["x"][:, 0] @ e["x"][:, 0].T),
    (
        "misc",
        "torch.mm(F.normalize(x[:, 0]), F.normalize(x[:, 0]).t())",
        lambda e: torch.mm(F.normalize(e["x"][:, 0]), F.normalize(e["x"][:, 0]).t()),
    ),
    ("misc", "x * (32 ** -0.5)", lambda e: e["x"] * (32**-0.5)),
    ("misc", "x.pow(2).mean(-1, keepdim=True)", lambda e: e["x"].pow(2).mean(-1, keepdim=True)),
    (
        "misc",
        "x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)",
        lambda e: e["x"] * torch.rsqrt(e["x"].pow(2).mean(-1, keepdim=True) + 1e-6),
    ),
    (
        "misc",
        "(x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True, unbiased=False) + 1e-12)",
        lambda e: (
            (e["x"] - e["x"].mean(-1, keepdim=True)) / torch.sqrt(e["x"].var(-1, keepdim=True, unbiased=False) + 1e-12)
        ),
    ),
    ("misc", "F.layer_norm(x, (32,))", lambda e: F.layer_norm(e["x"], (32,))),
    ("misc", "F.gelu(x)", lambda e: F.gelu(e["x"])),
    (
        "misc",
        "0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))",
        lambda e: (
            0.5 * e["x"] * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (e["x"] + 0.044715 * torch.pow(e["x"], 3.0))))
        ),
    ),
    ("misc", "x * torch.sigmoid(1.702 * x)", lambda e: e["x"] * torch.sigmoid(1.702 * e["x"])),
    (
        "misc",
        ["x1 = x[..., : x.shape[-1] // 2]", "x2 = x[..., x.shape[-1] // 2 :]", "torch.cat((-x2, x1), dim=-1)"],
        lambda e: _rotate_half(e["x"]),
    ),
    (
        "misc",
        "1.0 / (10000 ** (torch.arange(0, 32, 2).float() / 32))",
        lambda e: 1.0 / (10000 ** (torch.arange(0, 32, 2).float() / 32)),
    ),
    (
        "misc",
        "torch.einsum('i,j->ij', torch.arange(7).float(), torch.arange(16).float())",
        lambda e: torch.einsum("i,j->ij", torch.arange(7).float(), torch.arange(16).float()),
    ),
    ("misc", "x.sum(-1).unsqueeze(-1)", lambda e: e["x"].sum(-1).unsqueeze(-1)),
]


@dataclass
class Result:
    where: str
    steps: tuple[str, ...]
    outcome: str  # supported | refused | disagree | crash
    detail: str = ""


def _steps(item: Any) -> tuple[str, ...]:
    return tuple(item) if isinstance(item, list) else (item,)


def _same(a: Any, b: Any) -> bool:
    if isinstance(b, (tuple, list)):
        a = a if isinstance(a, (tuple, list)) else (a,)
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if not isinstance(a, torch.Tensor) or a.shape != b.shape or a.dtype != b.dtype or a.stride() != b.stride():
        return False
    if a.dtype.is_floating_point:
        return torch.allclose(a, b, equal_nan=True, atol=1e-5)
    return torch.equal(a, b)


def run_idiom(where: str, item: Any, ref: Any) -> Result:
    steps = _steps(item)
    env, meta_env = make_env(), make_env()
    predicting = True
    value: Any = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = ref(make_env())
        try:
            for text in steps:
                stmt = parse_statement(text)
                run = run_statement(stmt, env)
                env.update(run.binds)
                value = tuple(run.binds.values()) if isinstance(stmt.targets, tuple) else run.value
                if predicting:
                    try:
                        pred = predict_statement(stmt, meta_env)
                    except DataDependent:
                        predicting = False
                    else:
                        meta_env.update(pred.binds)
                        for name, v in run.binds.items():
                            p = pred.binds[name]
                            if (tuple(p.shape), p.stride(), p.dtype) != (tuple(v.shape), v.stride(), v.dtype):
                                return Result(where, steps, "disagree", f"`{name}` predicted {tuple(p.shape)}")
                        meta_env.update({k: v for k, v in run.binds.items() if k not in pred.binds})
        except ExpressionRefused as e:
            return Result(where, steps, "refused", str(e))
        except ShapeError as e:
            return Result(where, steps, "disagree", f"torch ran it, we failed: {e.message}")
        except Exception as e:
            return Result(where, steps, "crash", f"{type(e).__name__}: {e}")
    if isinstance(expected, tuple) and hasattr(expected, "values") and not isinstance(value, tuple):
        return Result(where, steps, "disagree", "a tuple was expected")
    if not _same(value, expected):
        return Result(where, steps, "disagree", "values differ from plain torch")
    return Result(where, steps, "supported")


def measure() -> list[Result]:
    return [run_idiom(where, item, ref) for where, item, ref in IDIOMS]


if __name__ == "__main__":
    results = measure()
    counts = Counter(r.outcome for r in results)
    n = len(results)
    print(f"{n} idioms: supported {counts['supported']} ({counts['supported'] / n:.1%}), refused {counts['refused']}, "
          f"disagreements {counts['disagree']}, crashes {counts['crash']}")  # fmt: skip
    for r in results:
        if r.outcome != "supported":
            print(f"  {r.outcome:8s} [{r.where}] {' ; '.join(r.steps)[:90]} -> {r.detail[:140]}")
