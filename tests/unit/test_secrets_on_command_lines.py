"""Generated secrets are URL-safe base64 and may start with "-": no command line may take one
as a separate argument (argparse would read it as an option; it would also show in `ps`)."""

from __future__ import annotations

import shutil

import pytest
from tests.conftest import make_test_settings

from phwarehouse.platform.cli import build_parser
from phwarehouse.stack import manage

DASH_SECRET = "-Zx9_dash-leading-secret"


def test_platform_service_passes_its_token_by_environment() -> None:
    settings = make_test_settings(PLATFORM_API_TOKEN=DASH_SECRET)
    try:
        service = manage.platform_service(settings)
        assert not any(DASH_SECRET in arg for arg in service.command)
        assert service.env["PLATFORM_API_TOKEN"] == DASH_SECRET
    finally:
        shutil.rmtree(settings.home, ignore_errors=True)


def test_serve_reads_a_dash_leading_token_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("PLATFORM_API_TOKEN", DASH_SECRET)
    args = build_parser().parse_args(["serve", "--data", "/tmp/x"])
    assert args.token == DASH_SECRET


def test_serve_without_any_token_is_a_usage_error(monkeypatch) -> None:
    from phwarehouse.platform.cli import main

    monkeypatch.delenv("PLATFORM_API_TOKEN", raising=False)
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--data", "/tmp/x"])
    assert exc.value.code == 2


def test_superset_init_never_passes_a_secret_as_a_separate_argument(monkeypatch) -> None:
    import subprocess

    from phwarehouse.stack import superset_service

    settings = make_test_settings(SUPERSET_ADMIN_PASSWORD=DASH_SECRET)
    calls: list[tuple[str, ...]] = []

    def fake_cli(_settings, *args):
        calls.append(args)
        return subprocess.CompletedProcess(args, 0, "user already exists", "")

    imports: list[tuple[list[str], dict[str, str]]] = []

    def fake_run(argv, env, **_):
        imports.append((argv, env))
        return subprocess.CompletedProcess(argv, 0, "{}", "")

    monkeypatch.setattr(superset_service, "superset_cli", fake_cli)
    monkeypatch.setattr("phwarehouse.dashboards.importer.subprocess.run", fake_run)
    try:
        superset_service.init(settings)
        bi_password = settings.warehouse_role("bi")[1]
    finally:
        shutil.rmtree(settings.home, ignore_errors=True)
    assert any(f"--password={DASH_SECRET}" in args for args in calls)  # create and reset
    assert all(DASH_SECRET not in args for args in calls)
    # the dashboards' import gets the BI password and the users' passwords by environment
    ((argv, env),) = imports
    assert env["PHW_BI_DATABASE_PASSWORD"] == bi_password
    assert env["PHW_SUPERSET_USER_PASSWORDS"].startswith("{")
    assert not [a for a in argv if bi_password in a or "PASSWORD" in a.upper()]
