"""Enhancing one's own raw file with a trained checkpoint: tiling and 16-bit output."""
