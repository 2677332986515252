"""Cosmos configuration of the dbt project: where it is, how to reach the warehouse, how to render.

The project is rendered from `dbt_project/target/manifest.json` (written by `dbt parse` when the
stack starts) so that DAG parsing never runs dbt; without a manifest Cosmos falls back to `dbt ls`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

from phwarehouse.pipeline import data_cutoff, transform_plan
from phwarehouse.quality.checks import CANDIDATE_SCHEMA
from phwarehouse.settings import DBT_TARGET

DBT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_project"
MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
DBT_EXECUTABLE = Path(sys.prefix) / "bin" / "dbt"
CUTOFF_ENV = "PHW_DATA_CUTOFF_DATE"  # the var data_cutoff_date's default (dbt_project.yml)


def project_config() -> ProjectConfig:
    manifest = MANIFEST if MANIFEST.exists() else None
    return ProjectConfig(
        dbt_project_path=DBT_PROJECT_DIR,
        manifest_path=manifest,
        project_name="public_health",
        install_dbt_deps=False,
    )


def profile_config() -> ProfileConfig:
    return ProfileConfig(
        profile_name="public_health",
        target_name=DBT_TARGET,  # prod: verbatim schemas, no macro harnesses (profiles.yml)
        profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml",
    )


def execution_config() -> ExecutionConfig:
    """Watcher mode: one `dbt build` (dbt's own threads) with a sensor task per node."""
    return ExecutionConfig(
        execution_mode=ExecutionMode.WATCHER,
        dbt_executable_path=DBT_EXECUTABLE,
        invocation_mode=InvocationMode.DBT_RUNNER,
    )


# Consumer sensors poke from the worker instead of deferring: a trigger that fires within a second
# of deferral races the executor's defer-exit event (apache/airflow#66374, #72716, open in 3.3) and
# the task is failed, then retried by re-running its model, which drops dependent views.
CONSUMER_ARGS = {"deferrable": False, "poke_interval": 2}


# The run's build plan (transform_plan): the producer builds and the tests task tests only what
# it selects, and reports the rest skipped (up to date); a model downstream of a skipped one is
# still watched (`none_failed`), and a failed one still stops its dependants.
PLAN_ARGS = {"pre_execute": transform_plan.apply_plan, "trigger_rule": "none_failed"}


def operator_args() -> dict[str, object]:
    """Arguments for every Cosmos task of the group (sensor settings apply to the consumers).

    `full_refresh` follows the run's `full_refresh` param: the incremental models are rebuilt
    from scratch (needed after a change of seeds, vars or org units). The marts are built into
    `marts_candidate` (var `marts_schema`), never straight into the published `marts`. The var
    `data_cutoff_date` is the run's cut-off (`data_cutoff`: the DAG needs its MACROS), passed in
    the environment (CUTOFF_ENV, read by dbt_project.yml): a --vars value that changes every day
    would make dbt parse the whole project in every run instead of partially.
    """
    return {
        **CONSUMER_ARGS,
        **PLAN_ARGS,
        "full_refresh": "{{ params.full_refresh }}",
        "vars": {
            # write-audit-publish: dbt writes the marts into the candidate schema; the quality
            # gate validates it and publishes it into `marts` (phwarehouse.quality.publish)
            "marts_schema": CANDIDATE_SCHEMA,
        },
        "env": {CUTOFF_ENV: data_cutoff.TEMPLATE},
    }


# dbt unit tests check model logic on static fixtures: they run in CI (`make test`), not in every
# warehouse run, as dbt recommends; the data tests do run after the models.
EXCLUDE = ["resource_type:unit_test"]


def render_config() -> RenderConfig:
    return RenderConfig(
        load_method=LoadMode.DBT_MANIFEST if MANIFEST.exists() else LoadMode.DBT_LS,
        exclude=EXCLUDE,
        test_behavior=TestBehavior.AFTER_ALL,
        emit_datasets=False,
        dbt_deps=False,
    )
