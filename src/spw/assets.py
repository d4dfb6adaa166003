"""Airflow asset names shared by the ingestion (producer) and transformation (consumer) DAGs."""

# One asset for "raw tables changed": each ingestion task that loads something updates it, and the
# transformation DAG is scheduled on it.
RAW_ASSET_NAME = "spw_warehouse_raw"
RAW_ASSET_URI = "spw://warehouse/raw"
