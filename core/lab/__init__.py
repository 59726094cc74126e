"""Reshape Lab logic: element lineage through a chain, memory order, einops equivalents."""
