"""The warehouse's Airflow plugin (entry point `airflow.plugins` in pyproject.toml): throttles
failed logins on the API server's token endpoints (phwarehouse.pipeline.login_throttle)."""

from __future__ import annotations

from airflow.configuration import conf
from airflow.plugins_manager import AirflowPlugin

from phwarehouse.pipeline.login_throttle import LoginThrottle


class WarehousePlugin(AirflowPlugin):
    name = "phwarehouse"
    fastapi_root_middlewares = [  # noqa: RUF012 (Airflow's plugin interface)
        {
            "name": "login_throttle",
            "middleware": LoginThrottle,
            "args": [],
            "kwargs": {"rate": conf.get("fab", "auth_rate_limit", fallback="5 per 40 second")},
        }
    ]
