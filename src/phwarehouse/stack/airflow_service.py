"""Airflow 3 on the local stack: environment, metadata DB migration, components, REST client."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from phwarehouse.pipeline import alerts
from phwarehouse.settings import DBT_TARGET, Settings
from phwarehouse.stack import airflow_users
from phwarehouse.stack.processes import Service

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
ADMIN_USER = "admin"
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"


def airflow_env(settings: Settings) -> dict[str, str]:
    """Environment for every Airflow process and CLI call of this stack."""
    home = settings.airflow_home
    bin_dir = settings.venv_pipeline / "bin"
    env = {
        **os.environ,
        **settings.warehouse_env(),
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "AIRFLOW_HOME": str(home),
        # the pipeline's dbt target (profiles.yml): Cosmos passes it too; also any dbt a task runs
        "DBT_TARGET": DBT_TARGET,
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.root / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__FERNET_KEY": settings.get("AIRFLOW_FERNET_KEY"),
        # FAB auth manager: users admin / operator / viewer (airflow_users), failed logins
        # throttled on the form (flask-limiter) and the token endpoints (login_throttle)
        "AIRFLOW__CORE__AUTH_MANAGER": FAB_AUTH_MANAGER,
        "AIRFLOW__FAB__AUTH_RATE_LIMITED": "True",
        "AIRFLOW__FAB__AUTH_RATE_LIMIT": airflow_users.LOGIN_RATE_LIMIT,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{settings.airflow_url}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": settings.airflow_db_url,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        "AIRFLOW__API__BASE_URL": settings.airflow_url,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__SECRET_KEY": settings.get("AIRFLOW_API_SECRET_KEY"),
        "AIRFLOW__API_AUTH__JWT_SECRET": settings.get("AIRFLOW_JWT_SECRET"),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        # parsing the transform DAG imports Cosmos and dbt: 5 s idle, near 20 s on a busy
        # 2-core machine; the default 30 s timeout would drop the DAG now and then
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        # every listener on loopback (the health check's default host is 0.0.0.0; the log
        # servers, which cannot be bound to one address, are not started: see services())
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(
            settings.port("PHW_AIRFLOW_HEALTH_PORT", 8974)
        ),
        # a database restart: connections are checked before use and retried
        "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_PRE_PING": "True",
        "AIRFLOW__DATABASE__MAX_DB_RETRIES": "10",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        # task logs and Cosmos' dbt cache (partial parse, manifest): owner only, in this home
        # (Cosmos' default is a world-readable /tmp/cosmos shared by every stack)
        "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FOLDER_PERMISSIONS": "0o700",
        "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FILE_PERMISSIONS": "0o600",
        "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos_cache"),
        "PYTHONUNBUFFERED": "1",
        # failure alerts (phwarehouse.pipeline.alerts): SMTP settings from .env, alerts file
        **{k: settings.values[k] for k in alerts.SETTINGS if settings.values.get(k)},
        "PHW_ALERTS_FILE": str(settings.log_dir / "alerts.log"),
    }
    return env


def airflow_cli(settings: Settings, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(settings.venv_pipeline / "bin" / "airflow"), *args],
        env=airflow_env(settings),
        capture_output=True,
        text=True,
        check=check,
    )


def user_passwords(settings: Settings) -> dict[str, str]:
    """The Airflow users' passwords by credentials variable (generated on first use)."""
    names = [airflow_users.password_variable(user) for user in airflow_users.USERS]
    return {name: settings.secret(name) for name in names}


def init(settings: Settings) -> None:
    """Migrate the metadata DB (FAB's tables too), then create or update the users admin,
    operator and viewer with their roles and passwords (idempotent)."""
    home = settings.airflow_home
    home.mkdir(parents=True, exist_ok=True)
    (home / "admin_passwords.json").unlink(missing_ok=True)  # the Simple auth manager's
    result = airflow_cli(settings, "db", "migrate", check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"airflow db migrate failed:\n{result.stdout[-2000:]}{result.stderr[-3000:]}"
        )
    users = subprocess.run(
        [str(settings.venv_pipeline / "bin" / "python"), "-m", airflow_users.__name__],
        env={**airflow_env(settings), **user_passwords(settings)},  # never on a command line
        capture_output=True,
        text=True,
        check=False,
    )
    if users.returncode != 0:
        raise RuntimeError(f"Airflow users failed:\n{users.stdout[-2000:]}{users.stderr[-3000:]}")


def services(settings: Settings) -> list[Service]:
    airflow = str(settings.venv_pipeline / "bin" / "airflow")
    env = airflow_env(settings)
    result = []
    for component in COMPONENTS:
        health = (
            f"{settings.airflow_url}/api/v2/monitor/health" if component == "api-server" else None
        )
        port = settings.airflow_port if component == "api-server" else None
        command = [airflow, component]
        if component in ("scheduler", "triggerer"):
            # their log servers bind every interface (no host setting); the API server reads
            # the task and trigger logs from the shared local log folder instead
            command.append("--skip-serve-logs")
        result.append(Service(f"airflow-{component}", command, env, port=port, health_url=health))
    return result


@dataclass
class AirflowClient:
    """Minimal client of Airflow's public REST API (v2) with the admin's JWT."""

    base_url: str
    username: str
    password: str
    _token: str | None = None

    @classmethod
    def for_stack(cls, settings: Settings) -> AirflowClient:
        return cls(settings.airflow_url, ADMIN_USER, settings.get("AIRFLOW_ADMIN_PASSWORD"))

    def _headers(self) -> dict[str, str]:
        if not self._token:
            resp = httpx.post(
                f"{self.base_url}/auth/token",
                json={"username": self.username, "password": self.password},
                timeout=30,
            )
            resp.raise_for_status()
            self._token = resp.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    def get(self, path: str, **params: Any) -> Any:
        resp = httpx.get(
            f"{self.base_url}/api/v2{path}", headers=self._headers(), params=params, timeout=30
        )
        resp.raise_for_status()
        return resp.json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        resp = httpx.post(
            f"{self.base_url}/api/v2{path}", headers=self._headers(), json=body, timeout=30
        )
        resp.raise_for_status()
        return resp.json()

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        resp = httpx.patch(
            f"{self.base_url}/api/v2{path}", headers=self._headers(), json=body, timeout=30
        )
        resp.raise_for_status()
        return resp.json()

    def dag_ids(self) -> list[str]:
        return sorted(d["dag_id"] for d in self.get("/dags", limit=100)["dags"])

    def import_errors(self) -> list[dict[str, Any]]:
        return self.get("/importErrors")["import_errors"]

    def wait_for_dags(self, expected: set[str], timeout: float = 240) -> list[str]:
        """Wait until the DAG processor has serialized every expected DAG."""
        deadline = time.monotonic() + timeout
        while True:
            errors = self.import_errors()
            if errors:
                details = "\n".join(f"{e['filename']}: {e['stack_trace'][-800:]}" for e in errors)
                raise RuntimeError(f"DAG import errors:\n{details}")
            found = set(self.dag_ids())
            if expected <= found:
                return sorted(found)
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"DAGs not parsed after {timeout:.0f}s: missing {expected - found}"
                )
            time.sleep(3)

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        self.patch(f"/dags/{dag_id}", {"is_paused": False})
        run = self.post(
            f"/dags/{dag_id}/dagRuns",
            {"logical_date": datetime.now(UTC).isoformat(), "conf": conf or {}},
        )
        return run["dag_run_id"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 1800) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run = self.get(f"/dags/{dag_id}/dagRuns/{run_id}")
            if run["state"] in ("success", "failed"):
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{dag_id} run {run_id} still {run['state']} after {timeout:.0f}s"
                )
            time.sleep(3)

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        tis = self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=500)[
            "task_instances"
        ]
        return {ti["task_id"]: ti["state"] for ti in tis}

    def runs(self, dag_id: str, limit: int = 20) -> list[dict[str, Any]]:
        return self.get(f"/dags/{dag_id}/dagRuns", limit=limit, order_by="-start_date")["dag_runs"]
