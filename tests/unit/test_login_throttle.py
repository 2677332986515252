"""Failed logins on the token endpoint are throttled per address (issue #9: 30 wrong passwords
in 1.5 s were all answered)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from phwarehouse.pipeline.login_throttle import LoginThrottle


async def token(request: Request) -> JSONResponse:
    body = await request.json()
    if body.get("password") == "right":
        return JSONResponse({"access_token": "t"}, status_code=201)
    return JSONResponse({"detail": "Invalid credentials"}, status_code=401)


async def dags(_: Request) -> JSONResponse:
    return JSONResponse({"dags": []})


def make_app() -> LoginThrottle:
    app = Starlette(
        routes=[
            Route("/auth/token", token, methods=["POST"]),
            Route("/auth/token/cli", token, methods=["POST"]),
            Route("/api/v2/dags", dags, methods=["GET", "POST"]),
        ]
    )
    return LoginThrottle(app, rate="3 per 60 second")


def test_the_fourth_try_after_three_failures_is_refused_even_with_the_right_password() -> None:
    app = make_app()
    attacker = TestClient(app, client=("10.0.0.9", 4000))
    codes = [attacker.post("/auth/token", json={"password": f"w{i}"}).status_code for i in range(3)]
    assert codes == [401, 401, 401]
    refused = attacker.post("/auth/token", json={"password": "right"})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "Too many failed logins" in refused.json()["detail"]
    # the CLI token door shares the count
    assert attacker.post("/auth/token/cli", json={"password": "right"}).status_code == 429


def test_successes_do_not_count_and_other_addresses_are_not_affected() -> None:
    app = make_app()
    user = TestClient(app, client=("10.0.0.1", 4000))
    for _ in range(10):
        assert user.post("/auth/token", json={"password": "right"}).status_code == 201
    attacker = TestClient(app, client=("10.0.0.9", 4000))
    for i in range(5):
        attacker.post("/auth/token", json={"password": f"w{i}"})
    assert attacker.post("/auth/token", json={"password": "right"}).status_code == 429
    assert user.post("/auth/token", json={"password": "right"}).status_code == 201


def test_other_requests_pass_untouched() -> None:
    app = make_app()
    client = TestClient(app, client=("10.0.0.9", 4000))
    for _ in range(5):
        assert client.post("/api/v2/dags", json={}).status_code == 200
        assert client.get("/api/v2/dags").status_code == 200
