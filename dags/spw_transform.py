"""Transformation DAG (airflow dag): dbt layers through Cosmos after the ingestion DAG updates raw.

Thin on purpose: the layer list and operator settings live in spw.transform.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Asset, Param

from spw.assets import RAW_ASSET_NAME, RAW_ASSET_URI
from spw.dag_lock import release_run_lock, take_run_lock
from spw.transform import FULL_REFRESH_PARAM, layer_tasks

with DAG(
    dag_id="spw_transform",
    description="Build staging, intermediate, marts and the disclosure-controlled published layer.",
    # Data-driven: runs when an ingestion task has loaded new rows (Airflow 3 asset scheduling).
    schedule=[Asset(name=RAW_ASSET_NAME, uri=RAW_ASSET_URI)],
    start_date=pendulum.datetime(2024, 4, 1, tz="Europe/London"),
    catchup=False,
    max_active_runs=1,
    # Each task holds the warehouse's run lock (shared), so no build runs beside a `spw run` (spw.dag_lock).
    default_args={"retries": 0, "owner": "spw", "pre_execute": take_run_lock, "post_execute": release_run_lock},
    tags=["spw", "dbt"],
    params={FULL_REFRESH_PARAM: Param(False, type="boolean",
                                      description="Rebuild every incremental model from scratch (after a change of "
                                                  "definitions, code lists or dbt variables).")},
):
    layer_tasks()
