"""Dashboard load benchmark: N concurrent viewers open the 总览 dashboard's chart-data requests.

Each viewer sends the overview's chart queries as the dashboard does on opening (the saved query
of each chart with the native filters' defaults: latest year and month, month year-to-date,
district level), six at a time like a browser, through Superset's chart-data API. Cold: every
request forces the query (`force`: the cache is bypassed and the warehouse queried); warm: the
same requests after a warm-up, answered from Superset's data cache.

Runs against a running stack (`make run`; PHW_HOME selects another):

    .venvs/pipeline/bin/python benchmarks/bench_dashboards.py --viewers 50
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg

from phwarehouse.dashboards import bundle, catalog
from phwarehouse.settings import load_settings

BROWSER_CONNECTIONS = 6


def _login(url: str, password: str) -> str:
    response = httpx.post(
        f"{url}/api/v1/security/login",
        json={"username": "admin", "password": password, "provider": "db", "refresh": False},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["access_token"]


def _default_filters(settings) -> list[dict]:
    """The overview's native-filter defaults, as the dashboard applies them."""
    query = """
        select max(assessment_year), max(period_key) filter (where period_type = 'month')
        from marts.dashboard_indicator_values
        where assessment_year = (select max(assessment_year) from marts.fct_indicator_values)
    """
    with psycopg.connect(settings.warehouse_url("bi")) as conn:
        year, month = conn.execute(query).fetchone()
    return [
        {"col": "assessment_year", "op": "IN", "val": [year]},
        {"col": "period_type_zh", "op": "IN", "val": [catalog.MONTH_YTD]},
        {"col": "period_key", "op": "IN", "val": [month]},
        {"col": "org_level_zh", "op": "IN", "val": ["1 区"]},
    ]


def _payloads(api: httpx.Client, filters: list[dict]) -> list[dict]:
    overview = next(d for d in catalog.dashboards() if d.slug == "overview")
    q = "(columns:!(id,uuid),page_size:100)"
    rows = api.get("/api/v1/chart/", params={"q": q}).raise_for_status().json()["result"]
    ids = {r["uuid"]: r["id"] for r in rows}
    payloads = []
    for chart in overview.charts:
        chart_id = ids[bundle.chart_uuid(chart)]
        saved = api.get(f"/api/v1/chart/{chart_id}").raise_for_status().json()["result"]
        context = json.loads(saved["query_context"])
        context["form_data"]["slice_id"] = chart_id
        for query in context["queries"]:
            query["filters"] = [f for f in filters if _applies(f["col"], chart)]
        payloads.append(context)
    return payloads


def _applies(column: str, chart) -> bool:
    native = catalog.NativeFilter("bench", "bench", chart.dataset, column)
    return bundle.applies(native, chart)


def _open_dashboard(api: httpx.Client, payloads: list[dict], force: bool) -> list[float]:
    """One viewer opening the dashboard: returns each chart request's latency (s)."""

    def one(payload: dict) -> float:
        started = time.perf_counter()
        response = api.post("/api/v1/chart/data", json={**payload, "force": force})
        response.raise_for_status()
        return time.perf_counter() - started

    with ThreadPoolExecutor(BROWSER_CONNECTIONS) as pool:
        return list(pool.map(one, payloads))


def _round(url: str, token: str, payloads: list[dict], viewers: int, force: bool) -> dict:
    clients = [
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=300)
        for _ in range(viewers)
    ]
    started = time.perf_counter()
    with ThreadPoolExecutor(viewers) as pool:
        opened = list(pool.map(lambda c: _timed(c, payloads, force), clients))
    wall = time.perf_counter() - started
    for client in clients:
        client.close()
    requests = sorted(latency for _, latencies in opened for latency in latencies)
    dashboards = sorted(total for total, _ in opened)
    return {
        "requests": len(requests),
        "request_p50_s": _pct(requests, 50),
        "request_p95_s": _pct(requests, 95),
        "dashboard_p50_s": _pct(dashboards, 50),
        "dashboard_p95_s": _pct(dashboards, 95),
        "wall_s": round(wall, 2),
    }


def _timed(client: httpx.Client, payloads: list[dict], force: bool) -> tuple[float, list[float]]:
    started = time.perf_counter()
    latencies = _open_dashboard(client, payloads, force)
    return time.perf_counter() - started, latencies


def _pct(values: list[float], pct: int) -> float:
    if len(values) == 1:
        return round(values[0], 3)
    return round(statistics.quantiles(values, n=100, method="inclusive")[pct - 1], 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=50)
    args = parser.parse_args()
    settings = load_settings()
    url = settings.superset_url
    token = _login(url, settings.get("SUPERSET_ADMIN_PASSWORD"))
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as api:
        payloads = _payloads(api, _default_filters(settings))
    with psycopg.connect(settings.warehouse_url("bi")) as conn:
        rows = conn.execute("select count(*) from marts.dashboard_indicator_values").fetchone()[0]
    print(f"总览: {len(payloads)} chart queries per viewer, {args.viewers} concurrent viewers")
    print(f"dashboard_indicator_values: {rows} rows")
    cold = _round(url, token, payloads, args.viewers, force=True)
    print("cold (force: every query hits the warehouse):", json.dumps(cold))
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=300) as client:
        for _ in range(3):  # every gunicorn worker reads the shared cache; fill it
            _open_dashboard(client, payloads, False)
    warm = _round(url, token, payloads, args.viewers, force=False)
    print("warm (Superset's data cache):", json.dumps(warm))
    target = "met" if warm["request_p95_s"] < 2 else "NOT met"
    print(f"target p95 < 2 s warm per chart request: {target}")


if __name__ == "__main__":
    main()
