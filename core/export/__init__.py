"""Code export (a runnable PyTorch script) and share links (a Spec in one URL parameter)."""
