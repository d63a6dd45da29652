"""Conversions of detectron2's per-instance outputs: mask probabilities straight to RLEs."""
