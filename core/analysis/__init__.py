"""Pooling comparison: every strategy from one pass, projections, separation scores, sample sets."""
