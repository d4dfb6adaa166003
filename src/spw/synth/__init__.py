"""Deterministic synthetic landing data (every contract source) with a planted effect and its truth."""

from spw.synth.generator import SynthError, generate
from spw.synth.writer import TargetExists

__all__ = ["SynthError", "TargetExists", "generate"]
