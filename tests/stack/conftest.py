"""The throwaway stack (cluster, Airflow, Superset, platform on free ports) shared by the stack
tests, and the main job run once on it. Stopped and removed at the end of the session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

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


CHROMIUM = os.environ.get("PHW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium() -> Iterator:
    """Headless Debian Chromium driven by Playwright (no browser download); per module, so
    Playwright's event loop does not outlive the browser tests."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
