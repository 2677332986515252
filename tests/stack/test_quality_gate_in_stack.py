"""`make run` on the throwaway stack runs the quality gate in Airflow and publishes the marts."""

from __future__ import annotations

import httpx
import psycopg
from test_dashboards_in_browser import SCREENSHOTS  # tests/stack is on sys.path (pytest)

from phwarehouse.quality import publication, status
from phwarehouse.stack.airflow_service import AirflowClient, user_passwords


def test_main_job_validates_and_publishes_the_marts(stack, first_run) -> None:
    assert first_run.ok, first_run
    transform = [run for dag, run, _ in first_run.runs if dag == "warehouse_transform"]
    assert transform, first_run.runs
    states = AirflowClient.for_stack(stack).task_states("warehouse_transform", transform[-1])
    assert states["quality_gate"] == "success" and states["publish_marts"] == "success", states

    with psycopg.connect(stack.warehouse_url("quality")) as conn:
        current = publication.current_publication(conn)
        assert current is not None
        run = conn.execute(
            "select status, checks_run, errors, publication_id from quality.gate_runs"
            " order by started_at desc limit 1"
        ).fetchone()
    assert run[0] == "passed" and run[1] >= 16 and run[2] == 0
    assert run[3] == current.publication_id
    with psycopg.connect(stack.warehouse_url("bi")) as conn:  # Superset's role reads it
        assert conn.execute("select count(*) from marts.fct_indicator_values").fetchone()[0] > 0

    # what `make run` prints
    lines = status.summary_lines(stack.warehouse_url("quality"), stack.airflow_url)
    assert any(current.publication_id in line for line in lines), lines
    docs = [line for line in lines if line.startswith("GX Data Docs file: ")]
    assert docs and docs[0].endswith("index.html"), lines
    assert f"GX Data Docs: {stack.airflow_url}/data-docs/ (sign in to Airflow)" in lines, lines


def test_data_docs_are_served_by_airflow_to_signed_in_users(stack, first_run, chromium) -> None:
    """The URL `make run` prints: a stranger is sent to the login, a user reads the results."""
    assert first_run.ok, first_run
    url = f"{stack.airflow_url}/data-docs/"
    stranger = httpx.get(url, timeout=30)
    assert stranger.status_code == 302, stranger.status_code
    assert "/auth/login" in stranger.headers["location"], stranger.headers
    assert httpx.get(f"{url}..%2F..%2Fgx.yml", timeout=30).status_code in (302, 404)

    client = AirflowClient.for_stack(stack)
    page = httpx.get(url, headers=client._headers(), timeout=30)
    assert page.status_code == 200 and "Data Docs" in page.text, page.text[:300]
    outside = httpx.get(
        f"{url}..%2F..%2F..%2Fgreat_expectations.yml", headers=client._headers(), timeout=30
    )
    assert outside.status_code == 404, outside.status_code

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    browser = context.new_page()
    elsewhere: list[str] = []  # the docs must work on an intranet: nothing from a CDN
    browser.on(
        "request",
        lambda r: None if r.url.startswith(stack.airflow_url) else elsewhere.append(r.url),
    )
    browser.goto(url, wait_until="domcontentloaded")
    browser.wait_for_selector("#username", state="visible", timeout=60_000)
    browser.fill("#username", "viewer")
    browser.fill("#password", user_passwords(stack)["AIRFLOW_VIEWER_PASSWORD"])
    browser.keyboard.press("Enter")
    browser.wait_for_url("**/data-docs/**", timeout=60_000)
    # the results table (drawn by bootstrap-table: the vendored scripts ran)
    browser.get_by_role("link", name="raw_load").first.wait_for(timeout=60_000)
    browser.screenshot(path=str(SCREENSHOTS / "gx_data_docs.png"), full_page=True)
    browser.get_by_role("link", name="raw_load").first.click()  # a validation result page
    browser.get_by_text("raw_invalid_id_share").first.wait_for(timeout=60_000)
    browser.screenshot(path=str(SCREENSHOTS / "gx_data_docs_raw_load.png"), full_page=True)
    context.close()
    assert not [u for u in elsewhere if not u.startswith("data:")], elsewhere
