"""The warehouse's Airflow plugin (entry point `airflow.plugins` in pyproject.toml): throttles
failed logins on the API server's token endpoints (phwarehouse.pipeline.login_throttle) and
serves the quality gate's GX Data Docs at /data-docs/ with a link in Airflow's menu."""

from __future__ import annotations

from airflow.configuration import conf
from airflow.plugins_manager import AirflowPlugin

from phwarehouse.pipeline import data_docs
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
    fastapi_apps = [  # noqa: RUF012
        {"app": data_docs.create_app(), "url_prefix": data_docs.URL_PREFIX, "name": "GX Data Docs"}
    ]
    external_views = [  # noqa: RUF012
        {
            "name": "数据质量报告 (GX Data Docs)",
            "href": data_docs.URL_PREFIX.lstrip("/") + "/",
            "destination": "nav",
            "category": "browse",
        }
    ]
