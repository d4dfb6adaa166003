"""Deterministic synthetic landing data (every contract source) with a planted effect and its truth."""

from spw.synth.generator import generate

__all__ = ["generate"]
