"""spw: commissioning analytics warehouse for NHS social prescribing."""

__version__ = "0.1.0"
