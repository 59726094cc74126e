"""Pure plotly figure builders: records and arrays in, figures out (no torch at module level)."""
