"""Ingestion from the platform's HTTP change feed into raw, against the platform simulator.

A small dirty district is generated once; each test starts a server on a free port (faults
configurable) and ingests into the throwaway warehouse.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from tests.conftest import wipe_raw

from phwarehouse.ingestion import file_drops, platform_ingest
from phwarehouse.ingestion.client import PlatformClient, PlatformError
from phwarehouse.ingestion.contracts import ENTITIES, contract_for
from phwarehouse.ingestion.platform_ingest import ingest_entity
from phwarehouse.ingestion.raw_store import ValidRecord
from phwarehouse.ingestion.validation import validate
from phwarehouse.platform.dirty import DirtyConfig
from phwarehouse.platform.generate import GenerateConfig, generate
from phwarehouse.platform.server import FaultConfig, make_server

pytestmark = pytest.mark.warehouse

AS_OF = "2026-11-22"
TOKEN = "test-token"
UNTIL = datetime(2026, 11, 23, tzinfo=UTC)
ALL = list(ENTITIES)


@pytest.fixture(scope="module")
def district(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("district")
    generate(
        GenerateConfig(
            seed=3,
            residents=2000,
            start_year=2025,
            as_of=AS_OF,
            out=out,
            dirty=DirtyConfig(),
            workers=1,
        )
    )
    return out


@contextmanager
def serving(
    data: Path,
    faults: FaultConfig | None = None,
    as_of: str | None = None,
    rate_limit: float | None = None,
) -> Iterator[str]:
    server = make_server(data, TOKEN, port=0, as_of=as_of, faults=faults, rate_limit=rate_limit)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def client(url: str, **kw) -> PlatformClient:
    kw.setdefault("backoff_base", 0.01)
    kw.setdefault("backoff_cap", 0.05)
    return PlatformClient(url, TOKEN, page_size=kw.pop("page_size", 500), **kw)


def ingest_all(dsn: str, url: str, batch: str, entities=ALL, **kw) -> dict:
    results = {}
    with client(url, **kw) as c:
        for entity in entities:
            results[entity] = ingest_entity(dsn, c, entity, f"{batch}:{entity}", UNTIL)
    return results


def feed_lines(data: Path, entity: str) -> list[str]:
    return (data / "jsonl" / f"{entity}.jsonl").read_text(encoding="utf-8").splitlines()


def expected(data: Path, entity: str) -> tuple[set[tuple[str, int]], Counter]:
    """Independent reading of the feed file: valid (record_id, version) keys, rejection reasons."""
    keys: set[tuple[str, int]] = set()
    reasons: Counter = Counter()
    contract = contract_for(entity)
    for line in feed_lines(data, entity):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            obj = line
        result = validate(contract, obj)
        if isinstance(result, ValidRecord):
            keys.add((result.record_id, result.version))
        else:
            reasons[result.reason.split(":")[0]] += 1
    return keys, reasons


def raw_digest(dsn: str) -> dict[str, str]:
    """A fingerprint of every raw table and the quarantine (all columns but load time)."""
    out = {}
    with psycopg.connect(dsn) as conn:
        for entity in ALL:
            rows = conn.execute(
                f"select record_id, version, is_latest, is_deleted, payload::text, batch_id"
                f" from raw.{entity} order by record_id, version"
            ).fetchall()
            out[entity] = hashlib.sha256(repr(rows).encode()).hexdigest()
        rows = conn.execute(
            "select entity, reason, payload_sha256 from raw.quarantine order by 1, 3"
        ).fetchall()
        out["quarantine"] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return out


@pytest.fixture(scope="module")
def initial(district: Path, warehouse_settings, admin_dsn: str, loader_dsn: str) -> dict:
    wipe_raw(admin_dsn)
    with serving(district) as url:
        return ingest_all(loader_dsn, url, "initial")


def test_initial_ingest_lands_every_valid_version_and_quarantines_the_rest(
    district: Path, initial: dict, admin_dsn: str
) -> None:
    with psycopg.connect(admin_dsn) as conn:
        for entity in ALL:
            keys, reasons = expected(district, entity)
            got = set(conn.execute(f"select record_id, version from raw.{entity}").fetchall())
            assert got == keys, entity
            counts = initial[entity].counts
            assert counts.received == len(feed_lines(district, entity)), entity
            assert counts.reconciles, (entity, counts)
            assert counts.quarantined == sum(reasons.values()), entity


def test_every_contract_violation_kind_the_platform_sends_is_quarantined_with_its_reason(
    initial: dict, admin_dsn: str
) -> None:
    with psycopg.connect(admin_dsn) as conn:
        reasons = {
            r.split(":")[0]
            for (r,) in conn.execute("select distinct reason from raw.quarantine").fetchall()
        }
        payloads = conn.execute("select count(*) from raw.quarantine where payload = ''").fetchone()
    assert {
        "unparseable",
        "missing_record_id",
        "missing_person_ref",
        "missing_event_date",
    } <= reasons
    # spec §6: a wrong-type field is treated as missing and listed; the record is kept
    assert "wrong_type" not in reasons
    assert payloads == (0,), "the original payload is kept"
    with psycopg.connect(admin_dsn) as conn:
        issues = sum(
            conn.execute(
                f"select count(*) from raw.{entity}, jsonb_array_elements(field_issues) i"
                " where i ->> 'reason' = 'wrong_type'"
            ).fetchone()[0]
            for entity in ALL
        )
    assert issues > 0, "the dirty feed's wrong-type values are listed as field issues"


def test_audit_rows_reconcile(initial: dict, admin_dsn: str) -> None:
    with psycopg.connect(admin_dsn) as conn:
        rows = conn.execute(
            "select entity, status, received, loaded, quarantined, duplicates from ops.load_audit"
            " where batch_id like 'initial:%'"
        ).fetchall()
    assert len(rows) == len(ALL)
    for entity, status, received, loaded, quarantined, duplicates in rows:
        assert status == "success", entity
        assert received == loaded + quarantined + duplicates, entity


def test_deletions_are_applied_as_soft_deletes(
    district: Path, initial: dict, admin_dsn: str
) -> None:
    tombstoned = {
        json.loads(line)["record_id"]
        for entity in ALL
        for line in feed_lines(district, entity)
        if line.startswith("{") and '"deleted": true' in line.replace('":true', '": true')
    }
    assert tombstoned, "the dirty district has deletions"
    with psycopg.connect(admin_dsn) as conn:
        flagged = set()
        for entity in ALL:
            flagged |= {
                r
                for (r,) in conn.execute(
                    f"select record_id from raw.{entity} where is_deleted and is_latest"
                ).fetchall()
            }
            live_versions = conn.execute(
                f"select count(*) from raw.{entity} where is_deleted and not is_latest"
                f" and record_id not in (select record_id from raw.{entity}"
                f" where is_latest and is_deleted)"
            ).fetchone()[0]
            assert live_versions == 0, entity
    assert flagged == tombstoned


def test_a_second_run_and_a_full_replay_change_nothing(
    district: Path, initial: dict, admin_dsn: str, loader_dsn: str
) -> None:
    before = raw_digest(admin_dsn)
    with serving(district) as url:
        again = ingest_all(loader_dsn, url, "again")
        assert all(r.counts.received == 0 for r in again.values()), "watermark: nothing new"
        with client(url) as c:
            replay = {
                e: ingest_entity(
                    loader_dsn, c, e, f"replay:{e}", UNTIL, since=datetime(2000, 1, 1, tzinfo=UTC)
                )
                for e in ALL
            }
    for entity, result in replay.items():
        counts = result.counts
        assert counts.loaded == 0 and counts.quarantined == 0, entity
        assert counts.duplicates == counts.received == initial[entity].counts.received, entity
    assert raw_digest(admin_dsn) == before


def _fragile_run(url: str, loader_dsn: str, entity: str, batch: str, admin_dsn: str) -> tuple:
    """A run that fails at the first fault; its audit row's (status, received, loaded, error)."""
    with client(url, max_attempts=1, page_size=200) as fragile, pytest.raises(PlatformError):
        ingest_entity(loader_dsn, fragile, entity, batch, UNTIL)
    with psycopg.connect(admin_dsn) as conn:
        return conn.execute(
            "select status, received, loaded, error from ops.load_audit where batch_id = %s",
            (batch,),
        ).fetchone()


def test_resume_after_a_fault_mid_run_loses_and_duplicates_nothing(
    district: Path, initial: dict, admin_dsn: str, loader_dsn: str, monkeypatch
) -> None:
    """A first load that fails stores nothing (one transaction); a later run that fails keeps
    the chunks it committed, and the next run resumes without storing them twice."""
    reference = raw_digest(admin_dsn)
    entity = "vaccinations"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f"truncate raw.{entity}")
        conn.execute("delete from raw.quarantine where entity = %s", (entity,))
        conn.execute("delete from ops.watermarks where entity = %s", (entity,))
    monkeypatch.setattr(platform_ingest, "CHUNK_RECORDS", 300)  # commits before the fault
    faults = FaultConfig(rate_5xx=0.3, rate_truncate=0.2, seed=5)
    with serving(district, faults=faults) as url:
        status, received, loaded, error = _fragile_run(
            url, loader_dsn, entity, "fragile-first", admin_dsn
        )
        assert (status, loaded) == ("failed", 0) and received > 0
        assert error.startswith("first load rolled back, nothing stored: ")
        with psycopg.connect(admin_dsn) as conn:
            assert conn.execute(f"select count(*) from raw.{entity}").fetchone()[0] == 0
            stored = conn.execute(
                "select (select count(*) from raw.quarantine where entity = %s),"
                " (select count(*) from ops.watermarks where entity = %s)",
                (entity, entity),
            ).fetchone()
            assert stored == (0, 0)  # its quarantined rows and watermark rolled back too
            indexes = conn.execute(
                "select count(*) from pg_indexes where schemaname = 'raw' and tablename = %s",
                (entity,),
            ).fetchone()[0]
            assert indexes == 3  # the key and indexes the first load dropped are back
    with serving(district, as_of="2023-01-01") as url, client(url, page_size=200) as part:
        assert ingest_entity(loader_dsn, part, entity, "part", UNTIL).counts.loaded > 0
    with serving(district, faults=faults) as url:
        status, _, loaded, _ = _fragile_run(url, loader_dsn, entity, "fragile", admin_dsn)
        assert status == "failed" and loaded > 0  # chunks committed before the fault stay
        with client(url, page_size=200) as robust:
            result = ingest_entity(loader_dsn, robust, entity, "resumed", UNTIL)
            assert robust.stats.retries > 0
            assert {"truncated"} <= set(robust.stats.faults)
    assert result.counts.reconciles
    assert result.counts.duplicates >= loaded  # rows of the failed run are not stored twice
    with psycopg.connect(admin_dsn) as conn:
        dup = conn.execute(
            f"select count(*) - count(distinct (record_id, version)) from raw.{entity}"
        ).fetchone()[0]
    assert dup == 0
    after = raw_digest(admin_dsn)
    assert {k: v for k, v in after.items() if k not in (entity, "quarantine")} == {
        k: v for k, v in reference.items() if k not in (entity, "quarantine")
    }
    keys, _ = expected(district, entity)
    with psycopg.connect(admin_dsn) as conn:
        got = set(conn.execute(f"select record_id, version from raw.{entity}").fetchall())
    assert got == keys


def test_rate_limited_platform_is_waited_for(
    district: Path, initial: dict, loader_dsn: str
) -> None:
    with serving(district, rate_limit=10) as url, client(url, page_size=100) as c:
        result = ingest_entity(
            loader_dsn,
            c,
            "vaccinations",
            "throttled",
            UNTIL,
            since=datetime(2000, 1, 1, tzinfo=UTC),
        )
        assert c.stats.faults.get("429", 0) > 0
    assert result.counts.reconciles and result.counts.loaded == 0


def test_xlsx_and_population_drops_are_ingested_once(
    district: Path, initial: dict, tmp_path: Path, admin_dsn: str, loader_dsn: str
) -> None:
    import shutil
    import subprocess
    import sys

    drops = tmp_path / "drops"
    (drops / "population").mkdir(parents=True)
    for csv in (district / "population").glob("*.csv"):
        shutil.copy2(csv, drops / "population" / csv.name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "phwarehouse.platform",
            "export-xlsx",
            "--data",
            str(district),
            "--month",
            "2026-10",
            "--out",
            str(drops / "platform" / "2026-10"),
        ],
        check=True,
    )
    first = file_drops.ingest_drop_folder(loader_dsn, drops, "drop1")
    assert first and not any(r.skipped for r in first)
    assert all(r.counts.reconciles for r in first)
    xlsx = [r for r in first if r.kind == "platform_xlsx"]
    assert xlsx and sum(r.counts.received for r in xlsx) > 0
    # The export holds records the API already delivered: nothing new, nothing lost.
    assert sum(r.counts.loaded for r in xlsx) == 0
    csv_rows = sum(
        len(p.read_text(encoding="utf-8-sig").splitlines()) - 1
        for p in (drops / "population").glob("*.csv")
    )
    with psycopg.connect(admin_dsn) as conn:
        assert conn.execute("select count(*) from raw.stat_population").fetchone()[0] == csv_rows
    second = file_drops.ingest_drop_folder(loader_dsn, drops, "drop2")
    assert all(r.skipped for r in second) and len(second) == len(first)


def test_incremental_one_day_pulls_only_the_increment(
    tmp_path: Path, warehouse_settings, admin_dsn: str, loader_dsn: str
) -> None:
    """Runs last: it replaces the district's htn_followups with another district's."""
    data = tmp_path / "d"
    generate(
        GenerateConfig(
            seed=9,
            residents=800,
            start_year=2026,
            as_of=AS_OF,
            out=data,
            dirty=DirtyConfig.clean(),
            workers=1,
        )
    )
    entity = "htn_followups"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f"drop table if exists raw.{entity}")
        conn.execute("delete from ops.watermarks where entity = %s", (entity,))
    with serving(data, as_of="2026-11-01") as url, client(url) as c:
        first = ingest_entity(loader_dsn, c, entity, "day0", UNTIL)
    with serving(data) as url, client(url) as c:
        second = ingest_entity(loader_dsn, c, entity, "day1", UNTIL)
    total = len(feed_lines(data, entity))
    assert first.counts.received > 0 and second.counts.received > 0
    assert first.counts.received + second.counts.received == total
    assert second.counts.duplicates == 0


def test_parallel_first_runs_do_not_race_on_table_creation(
    warehouse_settings, admin_dsn: str, loader_dsn: str
) -> None:
    """Mapped ingest tasks start together on an empty warehouse: DDL must be serialised."""
    from concurrent.futures import ThreadPoolExecutor

    from phwarehouse.ingestion import raw_store

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(
            "drop table if exists raw.quarantine, ops.load_audit, ops.watermarks,"
            " ops.file_ingestions cascade"
        )

    def create(_: int) -> None:
        with psycopg.connect(loader_dsn) as conn:
            raw_store.ensure_ops_tables(conn)
            raw_store.ensure_entity_table(conn, "deaths")
            conn.commit()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(8)))
