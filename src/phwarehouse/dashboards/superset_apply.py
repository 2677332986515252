"""Apply the dashboards to Superset: import the asset bundle, then sync roles, users and
row-level security from `superset/access.yml`. Idempotent: a second run changes nothing.

Runs inside Superset's own venv (it imports Superset), started by `importer.apply`:

    python -m phwarehouse.dashboards.superset_apply --assets superset/assets \
        --access superset/access.yml

Secrets come by environment, never on the command line: PHW_BI_DATABASE_URI (masked password),
PHW_BI_DATABASE_PASSWORD, PHW_SUPERSET_USER_PASSWORDS (JSON username -> password).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import yaml

from phwarehouse.dashboards.access import VIEWER_ROLE, User, load_users
from phwarehouse.dashboards.bundle import NO_RLS_KEY

DATABASE_FILE = "databases/warehouse.yaml"
RLS_PREFIX = "RLS "  # roles and filters this module owns (others are left alone)
RLS_GROUP_KEY = "org_unit"
# Gamma's permissions a viewer keeps: reading. Writing, importing and SQL Lab are left out.
WRITE_PERMISSIONS = ("can_write", "can_add", "can_edit", "can_delete", "can_import")


def read_bundle(assets: Path, database_uri: str | None) -> dict[str, str]:
    contents = {
        str(p.relative_to(assets)): p.read_text(encoding="utf-8")
        for p in sorted(assets.rglob("*.yaml"))
    }
    if database_uri:
        config = yaml.safe_load(contents[DATABASE_FILE])
        config["sqlalchemy_uri"] = database_uri
        contents[DATABASE_FILE] = yaml.safe_dump(config, allow_unicode=True, sort_keys=False)
    return contents


def _adopt_database(contents: dict[str, str]) -> None:
    """A database registered by name before the bundle existed takes the bundle's UUID (the
    import matches by UUID and the name is unique)."""
    from superset import db
    from superset.models.core import Database

    config = yaml.safe_load(contents[DATABASE_FILE])
    wanted = uuid.UUID(config["uuid"])
    existing = db.session.query(Database).filter_by(database_name=config["database_name"]).first()
    if existing is not None and existing.uuid != wanted:
        existing.uuid = wanted
        db.session.commit()


def import_bundle(contents: dict[str, str], password: str) -> None:
    from superset import security_manager
    from superset.commands.importers.v1.assets import ImportAssetsCommand
    from superset.utils.core import override_user

    _adopt_database(contents)
    admin = security_manager.find_user(username="admin")
    with override_user(admin):
        ImportAssetsCommand(contents, passwords={DATABASE_FILE: password}).run()


def set_charts_in_scope(contents: dict[str, str]) -> None:
    """Native filters list the charts they apply to by id (`chartsInScope`), which the import
    does not remap: computed here from the imported layout and each filter's exclusions."""
    from superset import db
    from superset.models.dashboard import Dashboard

    uuids = [
        uuid.UUID(yaml.safe_load(text)["uuid"])
        for name, text in contents.items()
        if name.startswith("dashboards/")
    ]
    for dashboard in db.session.query(Dashboard).filter(Dashboard.uuid.in_(uuids)):
        metadata = json.loads(dashboard.json_metadata or "{}")
        chart_ids = sorted(chart.id for chart in dashboard.slices)
        for native_filter in metadata.get("native_filter_configuration", []):
            excluded = set(native_filter.get("scope", {}).get("excluded", []))
            native_filter["chartsInScope"] = [i for i in chart_ids if i not in excluded]
        dashboard.json_metadata = json.dumps(metadata, ensure_ascii=False)
    db.session.commit()


def _bundle_datasets(contents: dict[str, str]) -> list[Any]:
    from superset import db
    from superset.connectors.sqla.models import SqlaTable

    uuids = [
        uuid.UUID(yaml.safe_load(text)["uuid"])
        for name, text in contents.items()
        if name.startswith("datasets/")
    ]
    return db.session.query(SqlaTable).filter(SqlaTable.uuid.in_(uuids)).all()


def rls_exempt(contents: dict[str, str]) -> set[uuid.UUID]:
    """Datasets the bundle marks as holding no org-unit rows (`extra`: row-level security
    false), e.g. the publication stamp: the RLS clauses name township / facility columns they
    lack, so they get no filter and every viewer reads them whole."""
    exempt = set()
    for name, text in contents.items():
        if name.startswith("datasets/"):
            config = yaml.safe_load(text)
            if (config.get("extra") or {}).get(NO_RLS_KEY) is False:
                exempt.add(uuid.UUID(config["uuid"]))
    return exempt


def sync_viewer_role(datasets: list[Any]) -> Any:
    """The viewer role: Gamma's read permissions plus access to the dashboard datasets."""
    from superset import security_manager as sm

    gamma = sm.find_role("Gamma")
    keep = [
        pvm
        for pvm in gamma.permissions
        if not pvm.permission.name.startswith(WRITE_PERMISSIONS)
        and pvm.view_menu.name not in ("SQL Lab", "SQLLab")
    ]
    for dataset in datasets:
        pvm = sm.find_permission_view_menu("datasource_access", dataset.perm)
        if pvm is None:
            pvm = sm.add_permission_view_menu("datasource_access", dataset.perm)
        keep.append(pvm)
    role = sm.add_role(VIEWER_ROLE)
    role.permissions = keep
    return role


def sync_row_level_security(users: tuple[User, ...], datasets: list[Any]) -> dict[str, Any]:
    """One role and one Regular RLS filter per township / facility of access.yml, on every
    dashboard dataset with org-unit rows (`rls_exempt` ones left out). Filters and roles of org
    units no longer configured are removed."""
    from superset import db
    from superset import security_manager as sm
    from superset.connectors.sqla.models import RowLevelSecurityFilter

    roles: dict[str, Any] = {}
    wanted: dict[str, str] = {}
    for user in users:
        if user.rls_role and user.rls_clause:
            roles[user.rls_role] = sm.add_role(user.rls_role)
            wanted[user.rls_role] = user.rls_clause
    for name, clause in wanted.items():
        rls = db.session.query(RowLevelSecurityFilter).filter_by(name=name).first()
        if rls is None:
            rls = RowLevelSecurityFilter(name=name)
            db.session.add(rls)
        rls.description = "Managed by phwarehouse (superset/access.yml); edits are overwritten."
        rls.filter_type = "Regular"
        rls.group_key = RLS_GROUP_KEY
        rls.clause = clause
        rls.tables = list(datasets)
        rls.roles = [roles[name]]
    stale = db.session.query(RowLevelSecurityFilter).filter(
        RowLevelSecurityFilter.name.startswith(RLS_PREFIX)
    )
    for rls in stale:
        if rls.name not in wanted:
            db.session.delete(rls)
    for role in db.session.query(sm.role_model).filter(sm.role_model.name.startswith(RLS_PREFIX)):
        if role.name not in wanted:
            db.session.delete(role)
    db.session.commit()
    return roles


def sync_users(users: tuple[User, ...], viewer: Any, rls_roles: dict[str, Any]) -> None:
    from superset import db
    from superset import security_manager as sm
    from werkzeug.security import check_password_hash, generate_password_hash

    passwords: dict[str, str] = json.loads(os.environ.get("PHW_SUPERSET_USER_PASSWORDS", "{}"))
    for user in users:
        roles = [viewer] + ([rls_roles[user.rls_role]] if user.rls_role else [])
        password = passwords.get(user.username)
        if not password:
            raise SystemExit(f"no password given for Superset user {user.username}")
        existing = sm.find_user(username=user.username)
        if existing is None:
            created = sm.add_user(
                user.username,
                user.first_name,
                user.last_name,
                f"{user.username}@phw.invalid",
                roles,
                password=password,
            )
            if not created:
                raise SystemExit(f"could not create Superset user {user.username}")
            continue
        existing.first_name, existing.last_name = user.first_name, user.last_name
        existing.roles = roles
        existing.active = True
        if not check_password_hash(existing.password, password):
            existing.password = generate_password_hash(password)
    db.session.commit()


def counts() -> dict[str, int]:
    from superset import db
    from superset.connectors.sqla.models import RowLevelSecurityFilter, SqlaTable
    from superset.models.core import Database
    from superset.models.dashboard import Dashboard
    from superset.models.slice import Slice

    return {
        "databases": db.session.query(Database).count(),
        "datasets": db.session.query(SqlaTable).count(),
        "charts": db.session.query(Slice).count(),
        "dashboards": db.session.query(Dashboard).count(),
        "rls_filters": db.session.query(RowLevelSecurityFilter).count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=Path, required=True)
    parser.add_argument("--access", type=Path, required=True)
    args = parser.parse_args(argv)
    users = load_users(args.access)  # fail on a bad config before touching Superset
    contents = read_bundle(args.assets, os.environ.get("PHW_BI_DATABASE_URI"))

    from superset.app import create_app

    app = create_app()
    with app.app_context():
        import_bundle(contents, os.environ.get("PHW_BI_DATABASE_PASSWORD", ""))
        set_charts_in_scope(contents)
        datasets = _bundle_datasets(contents)
        viewer = sync_viewer_role(datasets)
        exempt = rls_exempt(contents)
        rls_datasets = [d for d in datasets if d.uuid not in exempt]
        rls_roles = sync_row_level_security(users, rls_datasets)
        sync_users(users, viewer, rls_roles)
        print(json.dumps(counts(), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
