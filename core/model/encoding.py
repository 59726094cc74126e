"""Tokenize and run the encoder once, keeping every hidden state (and attentions when affordable).

>>> enc = encode(load_checkpoint("random:bert-tiny"), ["hello world"])    # doctest: +SKIP
>>> len(enc.hidden_states), tuple(enc.hidden_states[-1].shape)             # doctest: +SKIP
(3, (1, 4, 128))       # embeddings + one entry per layer; (batch, tokens, hidden)
"""

from __future__ import annotations

import json
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from core.errors import BudgetExceeded
from core.limits import check_deadline, fmt_bytes, fmt_flops
from core.limits import current as current_limits
from core.model.checkpoint_access import BUNDLED_ALIASES
from core.model.checkpoints import PRESET_SIZES, Checkpoint, Preset, bundled_model_path, bundled_tokenizer

# attentions cost layers * B * heads * L * L floats; keep them only under this many elements
MAX_ATTENTION_NUMEL = 40_000_000


@dataclass(frozen=True)
class Encoding:
    """Encoder output for a list of texts.

    tokens: word pieces per text (padding included, as "[PAD]"); input_ids, attention_mask: (B, L);
    lengths: real tokens per text; truncated: tokens cut per text by max_length;
    hidden_states: embeddings + one (B, L, H) tensor per layer; attentions: one (B, heads, L, L)
    tensor per layer, or None when too large; pooler_output: (B, H) or None.
    """

    texts: tuple[str, ...]
    max_length: int | None
    tokens: tuple[tuple[str, ...], ...]
    input_ids: Any
    attention_mask: Any
    lengths: tuple[int, ...]
    truncated: tuple[int, ...]
    hidden_states: tuple[Any, ...]
    attentions: tuple[Any, ...] | None
    pooler_output: Any

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.hidden_states[-1].shape)

    @property
    def any_truncated(self) -> bool:
        return any(self.truncated)

    @property
    def nbytes(self) -> int:
        """Bytes of every tensor held (hidden states, attentions, ids, mask, pooler output)."""
        tensors = [self.input_ids, self.attention_mask, self.pooler_output, *self.hidden_states]
        tensors += list(self.attentions or ())
        return sum(t.numel() * t.element_size() for t in tensors if t is not None)


class EncoderMemo:
    """Recent encoder outputs of every checkpoint together, least recently used first out, bounded by BYTES.

    The budget is ``core.limits``' ``cache_bytes`` (read at each insertion); an output larger than the
    whole budget is returned but not kept. Entries of a checkpoint that is garbage-collected are dropped.
    """

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[int, Any], tuple[Encoding, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._owners: set[int] = set()
        self.bytes = 0

    def get(self, ckpt: Checkpoint, key: Any) -> Encoding | None:
        with self._lock:
            hit = self._entries.get((id(ckpt), key))
            if hit is None:
                return None
            self._entries.move_to_end((id(ckpt), key))
            return hit[0]

    def put(self, ckpt: Checkpoint, key: Any, enc: Encoding, budget: int | None = None) -> None:
        budget = current_limits().cache_bytes if budget is None else budget
        size = enc.nbytes
        with self._lock:
            if id(ckpt) not in self._owners:
                self._owners.add(id(ckpt))
                weakref.finalize(ckpt, self.drop_owner, id(ckpt))
            old = self._entries.pop((id(ckpt), key), None)
            if old is not None:
                self.bytes -= old[1]
            if size > budget:
                return
            self._entries[(id(ckpt), key)] = (enc, size)
            self.bytes += size
            while self.bytes > budget:
                _, (_, freed) = self._entries.popitem(last=False)
                self.bytes -= freed

    def drop_owner(self, owner: int) -> None:
        with self._lock:
            self._owners.discard(owner)
            for k in [k for k in self._entries if k[0] == owner]:
                self.bytes -= self._entries.pop(k)[1]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)


MEMO = EncoderMemo()


def encoder_flops(layers: int, hidden: int, intermediate: int, batch: int, seq: int) -> int:
    """Floating-point operations of one encoder forward over (batch, seq) tokens (a multiply-add counts 2).

    Per layer and token: Q, K, V and the attention output (4 h x h), the feed-forward pair (2 h x intermediate);
    per layer and row: scores Q K^T and their use on V (2 x seq x seq x hidden). Embeddings and softmax are
    small beside these. The dense part is Kaplan et al. 2020 ("Scaling Laws", table 1): 2 x non-embedding
    parameters per token; tests check the whole count against torch's FlopCounterMode on a real BertModel.

    >>> round(encoder_flops(12, 768, 3072, 1, 128) / 1e9, 1)    # bert-base, one 128-token text: GFLOP
    22.3
    """
    dense = 2 * batch * seq * (4 * hidden * hidden + 2 * hidden * intermediate)
    attention = 2 * 2 * batch * seq * seq * hidden
    return layers * (dense + attention)


@dataclass(frozen=True)
class EncoderSize:
    """What the work and memory of an encoder forward depend on (read from a config, no weights needed)."""

    id: str
    layers: int
    hidden: int
    intermediate: int
    max_positions: int = 512
    itemsize: int = 4


def encoder_size(ckpt: Any) -> EncoderSize:
    """The size of a loaded checkpoint."""
    cfg = ckpt.model.config
    inter = getattr(cfg, "intermediate_size", None) or getattr(cfg, "hidden_dim", None) or 4 * ckpt.info.hidden_size
    itemsize = 2 if ckpt.info.dtype in ("float16", "bfloat16") else 4
    positions = int(getattr(ckpt.info, "max_positions", 512) or 512)
    return EncoderSize(ckpt.info.id, ckpt.info.num_layers, ckpt.info.hidden_size, int(inter), positions, itemsize)


def encoder_size_of(name: str) -> EncoderSize | None:
    """The size of the bundled model or a random preset by name, without loading any weight; None for others
    (a hub id or folder is checked once loaded)."""
    name = (name or "").strip()
    if name in BUNDLED_ALIASES:
        cfg = json.loads((bundled_model_path() / "config.json").read_text())
        return EncoderSize(
            name, cfg["num_hidden_layers"], cfg["hidden_size"], cfg["intermediate_size"], cfg["max_position_embeddings"]
        )
    if name.startswith("random:"):
        try:
            layers, hidden, _ = PRESET_SIZES[Preset(name.split(":", 1)[1].strip().lower())]
        except ValueError:
            return None
        return EncoderSize(name, layers, hidden, 4 * hidden, 512)
    return None


def check_encoder_work(size: EncoderSize | Checkpoint, batch: int, seq: int) -> int:
    """The encoder's FLOPs for (batch, seq); BudgetExceeded above ``core.limits``' ``work_flops``."""
    size = size if isinstance(size, EncoderSize) else encoder_size(size)
    flops = encoder_flops(size.layers, size.hidden, size.intermediate, batch, seq)
    limit = current_limits().work_flops
    if flops > limit:
        raise BudgetExceeded(
            f"running {size.id} over {batch} text(s) x {seq} tokens would take about {fmt_flops(flops)} of "
            f"work; the server's limit for one run is {fmt_flops(limit)}. Use fewer or shorter texts, a lower "
            "max_length or a smaller checkpoint"
        )
    return flops


def hidden_states_bytes(size: EncoderSize | Checkpoint, batch: int, seq: int) -> int:
    """Bytes of every hidden state of one forward: (layers + 1) x (batch, seq, hidden) in the model's dtype."""
    size = size if isinstance(size, EncoderSize) else encoder_size(size)
    return (size.layers + 1) * batch * seq * size.hidden * size.itemsize


def check_encoder_memory(size: EncoderSize | Checkpoint, batch: int, seq: int) -> int:
    """Bytes the encoder's hidden states would take; BudgetExceeded above ``memory_bytes``."""
    size = size if isinstance(size, EncoderSize) else encoder_size(size)
    nbytes = hidden_states_bytes(size, batch, seq)
    limit = current_limits().memory_bytes
    if nbytes > limit:
        raise BudgetExceeded(
            f"the hidden states of {size.id} for {batch} text(s) x {seq} tokens would take {fmt_bytes(nbytes)}; "
            f"the server's memory limit for one run is {fmt_bytes(limit)}. Use fewer or shorter texts or a lower "
            "max_length"
        )
    return nbytes


def encoding_bytes(ckpt: Checkpoint, batch: int, seq: int, attentions: bool = True) -> int:
    """Bytes an ``encode`` of (batch, seq) tokens holds: every hidden state, and the attentions when kept."""
    info = ckpt.info
    size = hidden_states_bytes(ckpt, batch, seq)
    attn = info.num_layers * batch * info.num_heads * seq * seq
    if attentions and attn <= MAX_ATTENTION_NUMEL:
        size += attn * encoder_size(ckpt).itemsize
    return size


def check_before_loading(name: str, texts: tuple[str, ...] | list[str], max_length: int | None) -> None:
    """Refuse (BudgetExceeded) a run of the bundled model or a random preset over the work or memory budget
    before its weights are even loaded (random:bert-large takes ~12 s and 1.3 GB just to build). Token
    counts come from the bundled tokenizer, which those checkpoints share. Others are checked once loaded."""
    size = encoder_size_of(name)
    if size is None or not texts:
        return
    limit = min(max_length or size.max_positions, size.max_positions)
    ids = bundled_tokenizer()(list(texts), add_special_tokens=True, truncation=True, max_length=limit)["input_ids"]
    seq = max(len(r) for r in ids)
    check_encoder_work(size, len(texts), seq)
    check_encoder_memory(size, len(texts), seq)


def _layer_hooks(ckpt: Checkpoint) -> None:
    """Deadline checks before every encoder layer (once per checkpoint): a long forward can be stopped."""
    if getattr(ckpt, "_deadline_hooks", False):
        return
    import torch

    stacks = [m for m in ckpt.model.modules() if isinstance(m, torch.nn.ModuleList)]
    for stack in stacks:
        total = len(stack)
        for i, layer in enumerate(stack):
            where = f"before encoder layer {i + 1} of {total}"
            layer.register_forward_pre_hook(lambda module, args, where=where: check_deadline(where))
    ckpt._deadline_hooks = True


def tokenize(
    ckpt: Checkpoint, texts: tuple[str, ...], max_length: int | None
) -> tuple[dict[str, Any], tuple[int, ...]]:
    """Tokenize with padding + truncation; also count the tokens truncation cut per text."""
    tok = ckpt.tokenizer
    limit = min(max_length or ckpt.info.max_positions, ckpt.info.max_positions)
    full = tok(list(texts), add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
    cut = tuple(max(0, len(ids) - limit) for ids in full)
    batch = tok(list(texts), padding=True, truncation=True, max_length=limit, return_tensors="pt")
    return batch, cut


def encode(
    ckpt: Checkpoint, texts: tuple[str, ...] | list[str], max_length: int | None = 128, attentions: bool = True
) -> Encoding:
    """One forward pass with hidden states; memoised (``MEMO``, bounded by bytes) by (texts, max_length).

    Raises BudgetExceeded (nothing ran) when the forward's work or its hidden states are over the server's
    budgets, and RunCancelled when the run's deadline passes between two encoder layers.
    """
    import torch

    texts = tuple(texts)
    key = (texts, max_length, attentions)
    with ckpt.lock:  # tokenizer + model are shared between sessions / threads
        hit = MEMO.get(ckpt, key)
        if hit is not None:
            return hit
        batch, cut = tokenize(ckpt, texts, max_length)
        b, seq = batch["input_ids"].shape
        check_encoder_work(ckpt, b, seq)
        check_encoder_memory(ckpt, b, seq)
        _layer_hooks(ckpt)
        info = ckpt.info
        want_attn = attentions and info.num_layers * b * info.num_heads * seq * seq <= MAX_ATTENTION_NUMEL
        inputs = {k: v.to(ckpt.device) for k, v in batch.items()}
        check_deadline("before the encoder")
        with torch.inference_mode():
            out = ckpt.model(**inputs, output_hidden_states=True, output_attentions=want_attn)
        ckpt.forward_calls += 1
        ids = batch["input_ids"]
        enc = Encoding(
            texts=texts,
            max_length=max_length,
            tokens=tuple(tuple(ckpt.tokenizer.convert_ids_to_tokens(row.tolist())) for row in ids),
            input_ids=ids,
            attention_mask=batch["attention_mask"],
            lengths=tuple(int(n) for n in batch["attention_mask"].sum(1).tolist()),
            truncated=cut,
            hidden_states=tuple(out.hidden_states),
            attentions=tuple(out.attentions) if want_attn and out.attentions else None,
            pooler_output=getattr(out, "pooler_output", None),
        )
        MEMO.put(ckpt, key, enc)
        return enc
