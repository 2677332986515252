"""Superset 6 on the local stack (its own venv): metadata DB, admin user, dashboards."""

from __future__ import annotations

import os
import subprocess

import httpx

from phwarehouse.dashboards import importer as dashboards_importer
from phwarehouse.settings import Settings
from phwarehouse.stack.processes import Service

ADMIN_USER = "admin"


def superset_env(settings: Settings) -> dict[str, str]:
    home = settings.superset_home
    return {
        **os.environ,
        "PATH": f"{settings.venv_superset / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "SUPERSET_HOME": str(home),
        "SUPERSET_CONFIG_PATH": str(settings.root / "superset" / "superset_config.py"),
        "SUPERSET_SECRET_KEY": settings.get("SUPERSET_SECRET_KEY"),
        "SUPERSET_DATABASE_URI": settings.superset_db_url,
        "FLASK_APP": "superset",
        "PYTHONUNBUFFERED": "1",
    }


def superset_cli(settings: Settings, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(settings.venv_superset / "bin" / "superset"), *args],
        env=superset_env(settings),
        capture_output=True,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"superset {' '.join(args[:2])} failed:\n{result.stdout[-2000:]}{result.stderr[-3000:]}"
        )
    return result


def init(settings: Settings) -> None:
    """Upgrade the metadata DB, ensure the admin (password synced) and the warehouse database."""
    settings.superset_home.mkdir(parents=True, exist_ok=True)
    password = settings.get("SUPERSET_ADMIN_PASSWORD")
    superset_cli(settings, "db", "upgrade")
    created = superset_cli(
        settings,
        "fab",
        "create-admin",
        "--username",
        ADMIN_USER,
        "--firstname",
        "Admin",
        "--lastname",
        "Commission",
        "--email",
        "admin@localhost",
        f"--password={password}",  # `=`: a generated secret may start with "-"
    )
    if "already exist" in (created.stdout + created.stderr):
        superset_cli(
            settings, "fab", "reset-password", "--username", ADMIN_USER, f"--password={password}"
        )
    superset_cli(settings, "init")
    # the warehouse database, datasets, charts, dashboards, roles, users and row-level
    # security, from superset/assets and superset/access.yml
    dashboards_importer.apply(settings)


def service(settings: Settings) -> Service:
    gunicorn = str(settings.venv_superset / "bin" / "gunicorn")
    return Service(
        "superset",
        [
            gunicorn,
            "--workers",
            "2",
            "--worker-class",
            "gthread",
            "--threads",
            "4",
            "--timeout",
            "120",
            "--bind",
            f"127.0.0.1:{settings.superset_port}",
            "superset.app:create_app()",
        ],
        superset_env(settings),
        port=settings.superset_port,
        health_url=f"{settings.superset_url}/health",
    )


def login(settings: Settings) -> str:
    """Log the admin in through Superset's security API; returns the access token."""
    resp = httpx.post(
        f"{settings.superset_url}/api/v1/security/login",
        json={
            "username": ADMIN_USER,
            "password": settings.get("SUPERSET_ADMIN_PASSWORD"),
            "provider": "db",
            "refresh": False,
        },
        timeout=30,
    )
    resp.raise_for_status()
    return resp.json()["access_token"]
