"""The pseudonymisation key stays in the warehouse (issue #9, item 1).

dbt renders only calls of `keyring.person_key()`: neither a parse nor a compile writes the key
into target/ (manifest, partial_parse.msgpack, compiled SQL) or dbt's log, even when
PERSON_KEY_SECRET is in dbt's environment. In the database the transformer can compute keys but
not read the key; provisioning and rotation never put the key or a password into the server log,
even with `log_statement = 'all'`.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path

import psycopg
import pytest
from tests.conftest import run_dbt
from tests.dbt.test_manifest import DUMMY_ENV as PARSE_ENV

from phwarehouse.settings import read_env_file, set_credential
from phwarehouse.stack import person_key
from phwarehouse.stack.provision import provision

MARKER = "leak-marker-7f3c9a1e5b2d4068"  # a would-be key in dbt's environment
PERSON_KEYED = ("stg_platform__residents", "stg_platform__record_versions")


def _files_containing(folder: Path, needles: dict[str, str]) -> list[str]:
    hits = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        hits += [f"{path}: {name}" for name, value in needles.items() if value.encode() in data]
    return hits


def _expected(key: str, id_number: str | None, record_id: str) -> str:
    message = (id_number or "").strip().upper() or f"EHR:{record_id}"
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def test_dbt_parse_writes_no_key_into_target(tmp_path: Path) -> None:
    env = {**PARSE_ENV, "PERSON_KEY_SECRET": MARKER}
    result = run_dbt("parse", target=tmp_path, env=env)
    assert result.returncode == 0, result.stdout[-3000:]
    assert (tmp_path / "partial_parse.msgpack").exists()
    assert _files_containing(tmp_path, {"marker": MARKER}) == []


@pytest.mark.warehouse
def test_compiled_person_key_models_call_the_function_and_hold_no_secret(
    warehouse_settings, tmp_path: Path
) -> None:
    key = warehouse_settings.get("PERSON_KEY_SECRET")
    env = {**warehouse_settings.warehouse_env(), "PERSON_KEY_SECRET": MARKER}
    result = run_dbt("compile", "--select", *PERSON_KEYED, target=tmp_path, env=env)
    assert result.returncode == 0, result.stdout[-3000:]
    compiled = {p.stem: p.read_text() for p in (tmp_path / "compiled").rglob("*.sql")}
    for model in PERSON_KEYED:
        assert "keyring.person_key(" in compiled[model], model
        assert "hmac(" not in compiled[model], model
    secrets = {"PERSON_KEY_SECRET": key, "marker": MARKER}
    secrets |= {k: v for k, v in warehouse_settings.values.items() if k.endswith("_PASSWORD")}
    assert _files_containing(tmp_path, secrets) == []


@pytest.mark.warehouse
def test_transformer_computes_person_keys_but_cannot_read_the_key(
    warehouse_settings, transformer_dsn: str, bi_dsn: str, loader_dsn: str
) -> None:
    key = warehouse_settings.get("PERSON_KEY_SECRET")
    with psycopg.connect(transformer_dsn) as conn:
        got = conn.execute(
            "select keyring.person_key(' 11010519491231002x ', 'EHR1'),"
            " keyring.person_key(null, 'EHR5'), keyring.person_key('', 'EHR6')"
        ).fetchone()
        assert got == (
            _expected(key, "11010519491231002X", "EHR1"),
            _expected(key, None, "EHR5"),
            _expected(key, None, "EHR6"),
        )
        # the public unit-test key of _platform__unit_tests.yml, same normalisation
        assert conn.execute(
            "select keyring.person_key_hmac('410108198001150019', 'EHR1', 'unit-test-secret')"
        ).fetchone()[0] == _expected("unit-test-secret", "410108198001150019", "EHR1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select secret from keyring.person_key_secret")
    for dsn in (bi_dsn, loader_dsn):
        with psycopg.connect(dsn) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select keyring.person_key('110105194912310021', 'x')")


@pytest.mark.warehouse
def test_no_function_or_view_definition_holds_the_key(warehouse_settings, admin_dsn) -> None:
    key = warehouse_settings.get("PERSON_KEY_SECRET")
    with psycopg.connect(admin_dsn) as conn:
        hits = conn.execute(
            "select proname from pg_proc where strpos(prosrc, %(k)s) > 0"
            " union all select viewname from pg_views where strpos(definition, %(k)s) > 0"
            " union all select matviewname from pg_matviews where strpos(definition, %(k)s) > 0",
            {"k": key},
        ).fetchall()
    assert hits == []


@pytest.fixture
def logging_everything(admin_dsn: str):
    """The cluster logs every statement with its parameters, as a careless DBA might set it."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute("alter system set log_statement = 'all'")
        conn.execute("alter system set log_min_duration_statement = 0")
        conn.execute("select pg_reload_conf()")
    time.sleep(1)
    try:
        yield
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute("alter system reset log_statement")
            conn.execute("alter system reset log_min_duration_statement")
            conn.execute("select pg_reload_conf()")


@pytest.mark.warehouse
def test_provision_and_rotation_keep_secrets_out_of_the_server_log(
    warehouse_settings, admin_dsn: str, transformer_dsn: str, logging_everything
) -> None:
    settings = warehouse_settings
    old_key = settings.get("PERSON_KEY_SECRET")
    server_log = settings.pgdata / "server.log"
    log_start = server_log.stat().st_size
    probe = "select keyring.person_key('110105194912310021', 'x')"
    try:
        assert provision(settings) == []  # idempotent, keeps the key
        with psycopg.connect(transformer_dsn) as conn:
            before = conn.execute(probe).fetchone()[0]
        assert before == _expected(old_key, "110105194912310021", "x")

        said: list[str] = []
        assert person_key.rotate(settings, said.append, rebuild="none") == "none"
        new_key = settings.get("PERSON_KEY_SECRET")
        assert new_key != old_key
        assert read_env_file(settings.credentials_file)["PERSON_KEY_SECRET"] == new_key
        assert (settings.credentials_file.stat().st_mode & 0o777) == 0o600
        with psycopg.connect(transformer_dsn) as conn:
            assert conn.execute(probe).fetchone()[0] == _expected(
                new_key, "110105194912310021", "x"
            )

        # a configured key the warehouse does not hold is reported, not applied silently
        settings.values["PERSON_KEY_SECRET"] = old_key
        notices = provision(settings)
        assert len(notices) == 1 and "rotate-person-key" in notices[0]
        with psycopg.connect(transformer_dsn) as conn:
            assert conn.execute(probe).fetchone()[0] != before
        # ... and `rotate` applies it (here: back to the session's key)
        person_key.rotate(settings, said.append, rebuild="none")
        with psycopg.connect(transformer_dsn) as conn:
            assert conn.execute(probe).fetchone()[0] == before
    finally:
        settings.values["PERSON_KEY_SECRET"] = old_key
        set_credential(settings.credentials_file, "PERSON_KEY_SECRET", old_key)
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            person_key.store_key(conn, old_key)

    with server_log.open("rb") as fh:
        fh.seek(log_start)
        logged = fh.read()
    assert b"keyring" in logged, "log_statement = 'all' did not take effect"
    secrets = {k: v for k, v in read_env_file(settings.credentials_file).items()}
    secrets["rotated PERSON_KEY_SECRET"] = new_key
    assert [name for name, value in secrets.items() if value.encode() in logged] == []
