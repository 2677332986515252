"""The throwaway stack (cluster, Airflow, Superset, platform on free ports) shared by the stack
tests, and the main job run once on it. Stopped and removed at the end of the session."""

from __future__ import annotations

import shutil

import pytest
from tests.conftest import make_test_settings

from phwarehouse.stack import main_job, manage, pgcluster


@pytest.fixture(scope="session")
def stack():
    settings = make_test_settings(PHW_DEMO_RESIDENTS="3000")
    try:
        yield settings
    finally:
        logs = settings.home / "airflow" / "logs"
        if logs.exists():  # keep the logs of the last run for a failure's post-mortem
            shutil.rmtree("/tmp/phw-stack-test-logs", ignore_errors=True)
            shutil.copytree(logs, "/tmp/phw-stack-test-logs", dirs_exist_ok=True)
        manage.down(settings)
        pgcluster.stop(settings)
        shutil.rmtree(settings.home, ignore_errors=True)


@pytest.fixture(scope="session")
def first_run(stack) -> main_job.RunReport:
    """`make run`'s main job, once: services up, demo district ingested and modelled,
    dashboards imported."""
    return main_job.main_job(stack, print)
