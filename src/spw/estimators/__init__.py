"""Numpy re-implementations of the published estimators (reference for the SQL and the calibration study)."""
