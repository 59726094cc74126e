"""Checkpoints, tokenize + encode (one forward pass), masked pooling, batch embedding."""
