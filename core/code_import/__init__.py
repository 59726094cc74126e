"""Pasted code → a live pipeline: PyTorch / TensorFlow snippets and nn.Module classes read with ``ast``.

Nothing pasted is ever executed, imported, compiled or eval'd. ``import_code`` gives a Spec and one note
per statement; ``trace_code`` also runs the Spec and annotates every line with the shape after it.
"""

from core.code_import.importer import import_code
from core.code_import.records import CodeImport, CodeRefused, LineNote, LineStatus

__all__ = ["CodeImport", "CodeRefused", "LineNote", "LineStatus", "import_code"]
