"""The local Spark session, started with the settings of the dbt profile's `spark` target, so the
loader and dbt (which calls getOrCreate) share one JVM whatever starts first."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spw.config import dbt_project_dir, spw_home

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def spark_dir() -> Path:
    """Parquet tables and the catalog (Derby metastore) of the local Spark warehouse."""
    return Path(os.environ.get("SPW_SPARK_DIR") or spw_home() / "spark").resolve()


def spark_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment the profile's `spark` target reads; telemetry off, logs under the state folder."""
    env = dict(os.environ if base is None else base)
    env.setdefault("SPW_SPARK_DIR", str(spark_dir()))
    env.update(
        DBT_PROFILES_DIR=str(dbt_project_dir()),
        DBT_SEND_ANONYMOUS_USAGE_STATS="False",
        DO_NOT_TRACK="1",
        DBT_LOG_PATH=str(spark_dir() / "dbt-logs"),
    )
    return env


def profile_parameters() -> dict[str, str]:
    """The `spark` target's server_side_parameters, with env_var() rendered as dbt would."""
    import jinja2
    import yaml

    profile = yaml.safe_load((dbt_project_dir() / "profiles.yml").read_text())
    params: dict[str, Any] = profile["spw"]["outputs"]["spark"]["server_side_parameters"]

    def env_var(name: str, default: str | None = None) -> str:
        value = os.environ.get(name, default)
        if value is None:
            raise KeyError(f"environment variable {name} is not set")
        return value

    env = jinja2.Environment(autoescape=False)
    return {k: env.from_string(str(v)).render(env_var=env_var) for k, v in params.items()}


def start() -> SparkSession:
    """The process's Spark session (created on first call, with Hive catalog support as dbt-spark's)."""
    from pyspark.sql import SparkSession

    os.environ.update(spark_env())
    spark_dir().mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder.appName("spw").enableHiveSupport()
    for key, value in profile_parameters().items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
