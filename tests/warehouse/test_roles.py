"""Least privilege in the warehouse: the BI role reads marts only; raw holds personal data."""

import psycopg
import pytest

pytestmark = pytest.mark.warehouse


@pytest.fixture(scope="module", autouse=True)
def tables(admin_dsn: str, loader_dsn: str, transformer_dsn: str) -> None:
    with psycopg.connect(loader_dsn, autocommit=True) as conn:
        conn.execute("create table if not exists raw.role_probe (name text)")
        conn.execute("insert into raw.role_probe values ('张三')")
    with psycopg.connect(transformer_dsn, autocommit=True) as conn:
        conn.execute("create table if not exists marts.role_probe as select 1 as n")
        conn.execute("create table if not exists staging.role_probe as select 1 as n")


def test_bi_role_cannot_read_raw(bi_dsn: str) -> None:
    with psycopg.connect(bi_dsn) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("select * from raw.role_probe")


def test_bi_role_cannot_read_staging(bi_dsn: str) -> None:
    with psycopg.connect(bi_dsn) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("select * from staging.role_probe")


def test_bi_role_reads_marts_created_by_the_transformer(bi_dsn: str) -> None:
    with psycopg.connect(bi_dsn) as conn:
        assert conn.execute("select n from marts.role_probe").fetchone() == (1,)


def test_bi_role_cannot_write_marts(bi_dsn: str) -> None:
    with psycopg.connect(bi_dsn) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("insert into marts.role_probe values (2)")


def test_transformer_reads_raw_but_cannot_write_it(transformer_dsn: str) -> None:
    with psycopg.connect(transformer_dsn) as conn:
        assert conn.execute("select name from raw.role_probe").fetchone() == ("张三",)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("insert into raw.role_probe values ('李四')")


def test_loader_cannot_create_in_marts(loader_dsn: str) -> None:
    with psycopg.connect(loader_dsn) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("create table marts.sneaky (n int)")


def test_provisioning_is_idempotent(warehouse_settings) -> None:
    from phwarehouse.stack.provision import provision

    provision(warehouse_settings)
    provision(warehouse_settings)


def test_transformer_sessions_sort_in_memory_without_jit(transformer_dsn: str) -> None:
    """dbt's sessions get the role settings that keep its whole-table models fast."""
    with psycopg.connect(transformer_dsn) as conn:
        assert conn.execute("show work_mem").fetchone()[0] == "256MB"
        assert conn.execute("show jit").fetchone()[0] == "off"


def test_a_table_filled_in_the_transaction_that_creates_it_skips_the_wal(admin_dsn: str) -> None:
    """dbt's `create table as` writes its rows once (wal_level minimal: synced at commit), not
    to the table and again to the WAL."""
    with psycopg.connect(admin_dsn) as conn:
        start = conn.execute("select pg_current_wal_insert_lsn()").fetchone()[0]
        conn.execute("create schema wal_probe")
        conn.execute(
            "create table wal_probe.built as"
            " select g, repeat('x', 100) as pad from generate_series(1, 50000) as g"
        )
        size, wal = conn.execute(
            "select pg_relation_size('wal_probe.built'),"
            " pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s)",
            (start,),
        ).fetchone()
        conn.rollback()
    assert size > 5_000_000
    assert wal < size / 20, (size, wal)


def test_text_sorts_in_code_point_order_with_unicode_case(transformer_dsn: str) -> None:
    """The cluster collates as "C" (memcmp, abbreviated keys: fast sorts of the hex person keys)
    in the same order as C.UTF-8, and keeps C.UTF-8's character classes for upper() / lower()."""
    sample = ["a", "B", "张三", "李四", "中原区", "_x", "Z", "é", "1", " ", "ａ", "𠀀"]
    with psycopg.connect(transformer_dsn) as conn:
        collate, ctype = conn.execute(
            "select datcollate, datctype from pg_database where datname = current_database()"
        ).fetchone()
        assert (collate, ctype) == ("C", "C.UTF-8")
        ordered = conn.execute(
            'select array_agg(s order by s), array_agg(s order by s collate "C.utf8")'
            " from unnest(%s::text[]) as s",
            (sample,),
        ).fetchone()
        assert ordered[0] == ordered[1] == sorted(sample)
        assert conn.execute("select upper('é'), lower('Ａ')").fetchone() == ("É", "ａ")


def test_bi_role_cannot_create_temporary_tables(bi_dsn: str) -> None:
    with psycopg.connect(bi_dsn) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("create temporary table scratch (n int)")


@pytest.mark.parametrize("database", ["airflow", "superset", "postgres"])
def test_bi_role_cannot_connect_to_the_other_databases(warehouse_settings, database) -> None:
    user, password = warehouse_settings.warehouse_role("bi")
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(
            host="127.0.0.1",
            port=warehouse_settings.pg.port,
            dbname=database,
            user=user,
            password=password,
        )


def test_bi_role_queries_time_out(bi_dsn: str) -> None:
    with psycopg.connect(bi_dsn) as conn:
        assert conn.execute("show statement_timeout").fetchone() == ("2min",)
        assert conn.execute("show idle_in_transaction_session_timeout").fetchone() == ("5min",)
