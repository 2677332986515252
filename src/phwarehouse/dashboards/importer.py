"""Import the dashboards into the stack's Superset (`make run`, `phw dashboards import`).

Runs `superset_apply` in Superset's venv with the secrets in its environment: the BI role's
password (never committed: the bundle's URI is masked) and the generated passwords of the
users of `superset/access.yml` (kept in the credentials file).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from phwarehouse.dashboards.access import ACCESS_FILE, User, load_users
from phwarehouse.dashboards.bundle import ASSETS_DIR, DATABASE_URI_TEMPLATE
from phwarehouse.settings import Settings


def user_passwords(settings: Settings, users: tuple[User, ...]) -> dict[str, str]:
    return {u.username: settings.secret(u.password_variable) for u in users}


def apply(
    settings: Settings, assets: Path = ASSETS_DIR, access: Path = ACCESS_FILE
) -> dict[str, int]:
    """Import the bundle and sync roles, users and row-level security; returns the counts of
    Superset's databases, datasets, charts, dashboards and RLS filters after the import."""
    from phwarehouse.stack.superset_service import superset_env

    users = load_users(access)
    bi_user, bi_password = settings.warehouse_role("bi")
    pg = settings.pg
    env = {
        **superset_env(settings),
        "PHW_BI_DATABASE_URI": DATABASE_URI_TEMPLATE.format(
            user=bi_user, host=pg.host, port=pg.port, database=settings.warehouse_db
        ),
        "PHW_BI_DATABASE_PASSWORD": bi_password,
        "PHW_SUPERSET_USER_PASSWORDS": json.dumps(user_passwords(settings, users)),
    }
    result = subprocess.run(
        [
            str(settings.venv_superset / "bin" / "python"),
            "-m",
            "phwarehouse.dashboards.superset_apply",
            "--assets",
            str(assets),
            "--access",
            str(access),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"importing the dashboards failed:\n{result.stdout[-2000:]}{result.stderr[-4000:]}"
        )
    return json.loads(result.stdout.strip().splitlines()[-1])
