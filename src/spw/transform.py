"""Transformation DAG logic: dbt, run through Cosmos, one task per warehouse layer.

A task per layer (not per model) because each dbt invocation costs seconds of start-up; `dbt build`
runs the layer's models and their tests, so a failed test stops the layers after it.
"""

from __future__ import annotations

from dataclasses import dataclass

from spw.config import dbt_project_dir, venv_bin

# (task id, dbt selector) in build order.
LAYERS: tuple[tuple[str, str], ...] = (
    ("dbt_seed_reference", "resource_type:seed"),
    ("dbt_build_staging", "path:models/staging"),
    ("dbt_build_intermediate", "path:models/intermediate"),
    ("dbt_build_marts", "path:models/marts"),
    ("dbt_build_published", "path:models/published"),
)


# The transformation DAG's param, rendered by Airflow for each run (Cosmos reads "True"/"False").
FULL_REFRESH_PARAM = "full_refresh"
FULL_REFRESH_TEMPLATE = "{{ params.full_refresh }}"


@dataclass(frozen=True)
class DbtSettings:
    project_dir: str
    profiles_yml: str
    dbt_executable: str


def settings() -> DbtSettings:
    project = dbt_project_dir()
    return DbtSettings(str(project), str(project / "profiles.yml"), str(venv_bin("dbt", "dbt")))


def layer_tasks() -> list:
    """Cosmos operators for each layer, chained in order. Imported inside a DAG context."""
    from cosmos.config import ProfileConfig
    from cosmos.operators.local import DbtBuildLocalOperator

    s = settings()
    profile = ProfileConfig(profile_name="spw", target_name="warehouse", profiles_yml_filepath=s.profiles_yml)
    common = dict(
        project_dir=s.project_dir,
        profile_config=profile,
        dbt_executable_path=s.dbt_executable,
        # Connection details come from the environment set by `spw` (never written into the DAG).
        append_env=True,
        install_deps=False,
        emit_datasets=False,
        retries=0,
        # A test spanning layers runs with the later layer, once all its parents exist.
        indirect_selection="buildable",
    )
    tasks = []
    for task_id, selector in LAYERS:
        if selector.startswith("resource_type:seed"):
            # `build`, not `seed`: the code lists' own data tests run before any model reads them
            tasks.append(DbtBuildLocalOperator(task_id=task_id, select=[selector], full_refresh=False, **common))
        else:
            # Every model is rebuilt in full; the DAG param full_refresh (spw run --full-refresh) is
            # passed on so that an incremental model, should one be added, can be rebuilt from scratch.
            tasks.append(DbtBuildLocalOperator(task_id=task_id, select=[selector], exclude=["resource_type:seed"],
                                               full_refresh=FULL_REFRESH_TEMPLATE, **common))
    for upstream, downstream in zip(tasks, tasks[1:], strict=False):
        upstream >> downstream
    return tasks
