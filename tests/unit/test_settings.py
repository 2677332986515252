"""Configuration: generated secrets are stable, the environment wins, external servers parse."""

from pathlib import Path

from phwarehouse.settings import GENERATED_SECRETS, load_settings, read_env_file


def test_secrets_are_generated_once_and_private(tmp_path: Path) -> None:
    first = load_settings(tmp_path, {})
    second = load_settings(tmp_path, {})
    creds = tmp_path / "credentials.env"
    assert creds.stat().st_mode & 0o777 == 0o600
    stored = read_env_file(creds)
    assert set(GENERATED_SECRETS) <= set(stored)
    for name in GENERATED_SECRETS:
        assert first.get(name) == second.get(name) == stored[name]
    assert len({stored[n] for n in GENERATED_SECRETS}) == len(GENERATED_SECRETS)


def test_environment_overrides_generated_values(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, {"WAREHOUSE_BI_PASSWORD": "from-env", "PHW_PG_PORT": "6000"})
    assert settings.warehouse_role("bi") == ("phw_bi_reader", "from-env")
    assert settings.pg.port == 6000 and settings.pg.local


def test_external_server_url_replaces_the_local_cluster(tmp_path: Path) -> None:
    settings = load_settings(
        tmp_path, {"PHW_PG_ADMIN_URL": "postgresql://dba:s%40cret@db.internal:5433/postgres"}
    )
    pg = settings.pg
    assert (pg.host, pg.port, pg.admin_user, pg.local) == ("db.internal", 5433, "dba", False)
    assert settings.warehouse_url("loader").startswith("postgresql://phw_loader:")
    assert "@db.internal:5433/warehouse" in settings.warehouse_url("loader")
    assert settings.airflow_db_url.startswith("postgresql+psycopg2://airflow:")


def test_warehouse_env_feeds_dbt_profile_variables(tmp_path: Path) -> None:
    env = load_settings(tmp_path, {"PHW_PG_PORT": "6001"}).warehouse_env()
    assert env["WAREHOUSE_PORT"] == "6001"
    assert env["WAREHOUSE_TRANSFORMER_USER"] == "phw_transformer"
    assert env["WAREHOUSE_DB"] == "warehouse"
