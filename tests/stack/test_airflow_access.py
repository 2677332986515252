"""Airflow as its users meet it (issue #9, item 6): the FAB auth manager with one user per role
(admin, operator, viewer), the login page in a browser, what each role may do through the REST
API, and throttled logins on the form and on the token endpoint. Runs on the throwaway stack
after `make run`'s main job (tests/stack/conftest.py)."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from test_dashboards_in_browser import SCREENSHOTS  # tests/stack is on sys.path (pytest)

from phwarehouse.stack import airflow_users
from phwarehouse.stack.airflow_service import AirflowClient, user_passwords

pytestmark = pytest.mark.stack
DAG = "platform_ingest"


@pytest.fixture(scope="module")
def airflow(stack, first_run):
    assert first_run.ok, first_run
    return stack


def _client(settings, user: str) -> AirflowClient:
    password = user_passwords(settings)[airflow_users.password_variable(user)]
    return AirflowClient(settings.airflow_url, user, password)


def test_each_role_signs_in_and_gets_what_its_role_allows(airflow) -> None:
    clients = {user: _client(airflow, user) for user in airflow_users.USERS}
    for user, client in clients.items():  # every role reads the DAGs
        assert DAG in client.dag_ids(), user

    paused = clients["admin"].get(f"/dags/{DAG}")["is_paused"]
    for user, allowed in (("admin", True), ("operator", True), ("viewer", False)):
        response = httpx.patch(  # leave the DAG as it is; only the permission is in question
            f"{airflow.airflow_url}/api/v2/dags/{DAG}",
            headers=clients[user]._headers(),
            json={"is_paused": paused},
            timeout=30,
        )
        assert response.status_code == (200 if allowed else 403), (user, response.text[:300])

    for user, allowed in (("admin", True), ("operator", False), ("viewer", False)):
        response = httpx.get(  # user management is the admin's alone
            f"{airflow.airflow_url}/auth/fab/v1/users",
            headers=clients[user]._headers(),
            timeout=30,
        )
        assert response.status_code == (200 if allowed else 403), (user, response.text[:300])


def test_the_viewer_logs_in_through_the_login_page_and_sees_the_dags(airflow, chromium) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    response = page.goto(f"{airflow.airflow_url}/", wait_until="domcontentloaded")
    assert response is not None and response.status == 200
    page.wait_for_url("**/auth/login/**", timeout=60_000)
    page.wait_for_selector("#username", state="visible", timeout=60_000)
    page.screenshot(path=str(SCREENSHOTS / "airflow_login.png"))
    page.fill("#username", "viewer")
    page.fill("#password", user_passwords(airflow)["AIRFLOW_VIEWER_PASSWORD"])
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/auth/login" not in url, timeout=60_000)
    page.goto(f"{airflow.airflow_url}/dags", wait_until="domcontentloaded")
    page.get_by_text(DAG).first.wait_for(timeout=120_000)
    page.screenshot(path=str(SCREENSHOTS / "airflow_dags_viewer.png"))
    context.close()


def test_wrong_passwords_are_throttled_on_the_form_and_the_token_endpoint(airflow) -> None:
    """FAB's rate limit ("5 per 40 second") on the login form; the same rate on failed logins
    at /auth/token, where a right password is refused too until the window ends."""
    url = airflow.airflow_url
    wrong = {"username": "admin", "password": "not-the-password"}
    with httpx.Client(base_url=url, timeout=30) as browser:  # the form as a browser posts it
        page = browser.get("/auth/login/")
        assert page.status_code == 200, page.status_code
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
        assert token, "the login form carries no CSRF token"
        posted = {**wrong, "csrf_token": token.group(1)}
        form = [browser.post("/auth/login/", data=posted).status_code for _ in range(7)]
    assert set(form) <= {302, 429}, form  # wrong passwords go back to the form, then 429
    assert 429 in form, form
    assert 429 not in form[:4], form  # the first tries are answered (the browser test used one)

    codes = [httpx.post(f"{url}/auth/token", json=wrong, timeout=30).status_code for _ in range(5)]
    assert codes == [401] * 5, codes
    right = {"username": "admin", "password": user_passwords(airflow)["AIRFLOW_ADMIN_PASSWORD"]}
    refused = httpx.post(f"{url}/auth/token", json=right, timeout=30)
    assert refused.status_code == 429, refused.text[:300]
    retry_after = int(refused.headers["retry-after"])
    assert 0 < retry_after <= 40

    time.sleep(retry_after + 1)  # the window ends: the other stack tests log in again
    accepted = httpx.post(f"{url}/auth/token", json=right, timeout=30)
    assert accepted.status_code in (200, 201), accepted.text[:300]
