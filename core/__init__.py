"""Shape Explorer core: UI-free engine (spec -> trace), diagnosis, and CLI.

Importing ``core`` is cheap: submodules load torch / transformers only when used.
"""
