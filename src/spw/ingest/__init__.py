"""Ingestion of landed CSV deliveries per the data contract (docs/data-contract.md)."""

from __future__ import annotations

# The Airflow Asset the ingestion DAG updates (the transformation DAG is scheduled on it).
from spw.assets import RAW_ASSET_NAME, RAW_ASSET_URI

__all__ = ["RAW_ASSET_NAME", "RAW_ASSET_URI"]
