"""Share links: a Spec packed into one URL-safe query parameter, and back.

The value is base64url (no padding) of zlib-compressed compact JSON, so a teacher can copy the page
URL and every student opens the same pipeline:

    >>> q = spec_to_query(Spec.from_dict({"shape": [32, 128, 768], "steps": ["x.transpose(1, 2)"]}))
    >>> list(q), spec_from_query(q).steps
    (['spec'], ('x.transpose(1, 2)',))

Links come from strangers, so decoding is defensive: the link length and the decompressed size are
capped (a zip bomb is refused before it expands), every failure is a ``SpecError`` with a clear
message, and a link may not name a local folder as its checkpoint. Expressions inside a link are
not trusted either: the trace parses them against the whitelist like any typed step.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Mapping
from typing import Any

from core.errors import SpecError
from core.model.checkpoint_access import HUB_ID
from core.model.checkpoints import CHECKPOINT_CHOICES
from core.spec import SETTING_RANGES, Spec, load_json

PARAM = "spec"
MAX_LINK_CHARS = 16_000  # the encoded value; browsers and proxies handle URLs well below 32k
MAX_JSON_BYTES = 256 * 1024  # decompressed JSON; a zip bomb stops here
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


def encode_spec(spec: Spec) -> str:
    """The link value of a spec: base64url(zlib(compact JSON)).

    Raises SpecError when too long, or when the checkpoint is a local folder (a link cannot carry it).
    """
    if spec.uses_model:
        _check_checkpoint(spec.checkpoint)
    raw = json.dumps(spec.to_dict(), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    value = base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode("ascii").rstrip("=")
    if len(value) > MAX_LINK_CHARS:
        raise SpecError(
            f"this pipeline is too large to share as a link ({len(value):,} characters encoded; the limit is "
            f"{MAX_LINK_CHARS:,}): shorten the texts or download the spec JSON instead"
        )
    return value


def decode_spec(value: str) -> Spec:
    """Inverse of :func:`encode_spec`; every failure is a SpecError saying what is wrong with the link."""
    return _spec(_decode_data(value))


def decode_spec_clamped(value: str) -> tuple[Spec, tuple[str, ...]]:
    """As :func:`decode_spec`, but a setting out of its range (``max_length``, ``layer``, ``seed``:
    ``core.spec.SETTING_RANGES``; an old link, a hand edit) is set to the nearest end of it, so a link with one
    such value still opens with its texts and steps; returns the spec and one note per changed setting.
    Anything else wrong is a SpecError as before."""
    data = _decode_data(value)
    notes = []
    for key, (lo, hi) in SETTING_RANGES.items():
        v = data.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and not lo <= v <= hi:
            data[key] = min(max(v, lo), hi)
            why = "too small: BERT's tokenizer always adds [CLS] and [SEP]" if key == "max_length" and v < lo else ""
            notes.append(f"'{key}' = {v} is {why or f'out of range ({lo}..{hi})'}; {data[key]} is used")
    return _spec(data), tuple(notes)


def _decode_data(value: str) -> dict[str, Any]:
    if not isinstance(value, str):
        raise SpecError(f"the shared link's '{PARAM}' value must be text, got {type(value).__name__}")
    value = value.strip()
    if not value:
        raise SpecError(f"the shared link's '{PARAM}' value is empty")
    if len(value) > MAX_LINK_CHARS:
        raise SpecError(f"the shared link is too long ({len(value):,} characters; the limit is {MAX_LINK_CHARS:,})")
    if not _B64URL.match(value):
        raise SpecError(
            "the shared link is damaged: it has characters outside base64url (A-Z a-z 0-9 - _); "
            "was it cut or edited when copied?"
        )
    try:
        packed = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise SpecError("the shared link is damaged: it is not valid base64url; was it cut when copied?") from None
    raw = _inflate(packed)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError("the shared link is damaged: its content is not UTF-8 text") from None
    try:
        data = load_json(text, "its content")
    except SpecError as e:
        raise SpecError(f"the shared link is damaged: {e}") from None
    if not isinstance(data, dict):
        raise SpecError(f"the shared link does not hold a spec: expected a JSON object, got {type(data).__name__}")
    try:  # JSON may spell lone surrogates (\ud800) that are not text and crash tokenizers later
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise SpecError("the shared link is damaged: it holds text that is not valid Unicode") from None
    except RecursionError:
        raise SpecError("the shared link is damaged: its JSON is nested too deeply") from None
    _check_checkpoint(data.get("checkpoint"))
    return data


def _spec(data: dict[str, Any]) -> Spec:
    try:
        return Spec.from_dict(data)
    except SpecError as e:
        raise SpecError(f"the shared link holds an invalid spec: {e}") from None


def spec_to_query(spec: Spec) -> dict[str, str]:
    """Query parameters for a spec: ``{"spec": "<base64url>"}``."""
    return {PARAM: encode_spec(spec)}


def spec_from_query(params: Mapping[str, Any]) -> Spec:
    """The spec of a link's query parameters (other parameters are ignored).

    A repeated parameter (``?spec=a&spec=b``) uses the last value, like ``st.query_params``.
    """
    return decode_spec(_value(params))


def spec_from_query_clamped(params: Mapping[str, Any]) -> tuple[Spec, tuple[str, ...]]:
    """:func:`spec_from_query` with out-of-range settings clamped (:func:`decode_spec_clamped`): what the app
    opens, so one bad number does not cost the visitor the shared texts and steps."""
    return decode_spec_clamped(_value(params))


def _value(params: Mapping[str, Any]) -> Any:
    if PARAM not in params:
        raise SpecError(f"the link has no '{PARAM}' parameter")
    value = params[PARAM]
    if isinstance(value, list | tuple):
        if not value:
            raise SpecError(f"the shared link's '{PARAM}' value is empty")
        value = value[-1]
    return value


def has_spec(params: Mapping[str, Any]) -> bool:
    return PARAM in params


def _inflate(packed: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(packed, MAX_JSON_BYTES + 1)
    except zlib.error:
        raise SpecError("the shared link is damaged: its content is not zlib-compressed data") from None
    if len(raw) > MAX_JSON_BYTES or inflater.unconsumed_tail:
        raise SpecError(
            f"the shared link expands to more than {MAX_JSON_BYTES // 1024} KiB of spec; refused "
            "(a real pipeline is far smaller)"
        )
    if not inflater.eof:
        raise SpecError("the shared link is damaged: its compressed content is cut short")
    return raw


def _check_checkpoint(name: Any) -> None:
    """A link may name the bundled model, a random preset or a Hugging Face id, never a local path."""
    if name is None or not isinstance(name, str):
        return  # Spec.from_dict reports the wrong type
    name = name.strip()
    if not name or name in CHECKPOINT_CHOICES or name.startswith("random:"):
        return
    if not HUB_ID.match(name) or ".." in name:
        raise SpecError(
            f"a share link cannot name checkpoint {name[:80]!r}: links may use only the bundled model, a "
            "random:bert-* preset or a Hugging Face id (owner/name), not a local folder"
        )
