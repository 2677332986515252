"""The quality gate end to end on a small district: write-audit-publish with bad and good days.

Day 1 (the day before AS_OF) is ingested, built into `marts_candidate`, validated and
published. Day 2 brings the next day's feed plus ten hypertension follow-ups of one service
unit of which four have an implausible blood pressure (40 %): the gate fails naming
`raw_implausible_bp_share` (the DAG task raises with it), and `marts` stays byte for byte what
it was (checksums of every published table). A township missing from the official population
fails `raw_population_complete` the same way. The platform then corrects the four readings and
sends a record dated after the cut-off: the warning `raw_dates_after_cutoff` is reported but
does not block, the gate passes and publishes; the BI role reads the new `marts`, not
`marts_previous`; a rollback brings day 1's tables back, a re-publish day 2's. The dashboards'
publication stamp (`dashboard_publication`) names the publication of the marts it is in, and
moves with them.
"""

from __future__ import annotations

import shutil
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from tests.conftest import run_dbt, wipe_raw

from phwarehouse.ingestion import file_drops, raw_store
from phwarehouse.ingestion.client import PlatformClient
from phwarehouse.ingestion.contracts import ENTITIES
from phwarehouse.ingestion.platform_ingest import ingest_entity
from phwarehouse.platform.dirty import DirtyConfig
from phwarehouse.platform.generate import GenerateConfig, generate
from phwarehouse.platform.server import make_server
from phwarehouse.quality import gate, publication, publish, tasks
from phwarehouse.stack.provision import provision

pytestmark = pytest.mark.warehouse

AS_OF = "2026-11-22"
DAY_BEFORE = (date.fromisoformat(AS_OF) - timedelta(days=1)).isoformat()


def _ingest(loader_dsn: str, district: Path, as_of: str, batch: str) -> None:
    server = make_server(district, "qg", port=0, as_of=as_of)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with PlatformClient(url, "qg", page_size=5000) as client:
            for entity in ENTITIES:
                until = datetime.now(UTC) + timedelta(days=3650)
                result = ingest_entity(loader_dsn, client, entity, f"{batch}:{entity}", until)
                assert result.counts.reconciles
    finally:
        server.shutdown()
        server.server_close()


def _build(settings, target: Path, cutoff: str, *extra: str) -> None:
    result = run_dbt(  # seeds and models; dbt's data tests run in tests/dbt and tests/e2e
        "build",
        "--exclude",
        "resource_type:unit_test",
        "resource_type:test",
        "--vars",
        f"{{marts_schema: marts_candidate, data_cutoff_date: '{cutoff}'}}",
        *extra,
        target=target,
        env=settings.warehouse_env(),
    )
    assert result.returncode == 0, result.stdout[-6000:]


def _bad_bp_followups(loader_dsn: str) -> tuple[str, list[raw_store.ValidRecord]]:
    """Ten follow-ups of one service unit dated AS_OF, four with SBP x10 (1400 mmHg)."""
    updated = datetime.fromisoformat(f"{AS_OF}T03:00:00+00:00")
    with psycopg.connect(loader_dsn) as conn:
        facility, payload = conn.execute(
            "select payload ->> 'facility_code', payload from raw.htn_followups"
            " where is_latest and not is_deleted and payload ->> 'sbp' is not null"
            " order by record_id limit 1"
        ).fetchone()
        records = []
        for i in range(10):
            record_id = f"HTFQG{i:010d}"
            sbp = 1400 if i < 4 else 132
            body = {
                **payload,
                "record_id": record_id,
                "version": 1,
                "followup_date": AS_OF,
                "sbp": sbp,
                "dbp": 84,
                "updated_at": updated.isoformat().replace("+00:00", "Z"),
            }
            records.append(raw_store.ValidRecord(record_id, 1, updated, False, body))
        counts = raw_store.load_records(conn, "htn_followups", "qg-bad-bp", updated, records, [])
        assert counts.loaded == 10
    return facility, records


def _correct(loader_dsn: str, records: list[raw_store.ValidRecord]) -> None:
    """The platform corrects the four readings (version 2, SBP 140) and sends one follow-up
    dated two days after the cut-off (a typo the marts exclude; reported as a warning)."""
    updated = datetime.fromisoformat(f"{AS_OF}T09:00:00+00:00")
    fixed = [
        raw_store.ValidRecord(
            r.record_id, 2, updated, False, {**r.payload, "sbp": 140, "version": 2}
        )
        for r in records
        if r.payload["sbp"] == 1400
    ]
    late = records[-1]
    future = (date.fromisoformat(AS_OF) + timedelta(days=2)).isoformat()
    fixed.append(
        raw_store.ValidRecord(
            late.record_id, 2, updated, False, {**late.payload, "followup_date": future}
        )
    )
    with psycopg.connect(loader_dsn) as conn:
        counts = raw_store.load_records(conn, "htn_followups", "qg-fix", updated, fixed, [])
        assert counts.loaded == 5


def _stamp(dsn: str, schema: str = "marts") -> tuple:
    """The publication stamp of a schema: (publication_id, data_cutoff_date)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            f"select publication_id, data_cutoff_date from {schema}.dashboard_publication"
        ).fetchall()
    assert len(rows) == 1, rows
    return rows[0]


def _checksums(dsn: str) -> dict[str, str]:
    with psycopg.connect(dsn) as conn:
        return publish.checksum(conn)


@pytest.fixture(scope="module")
def gx_project(tmp_path_factory, monkeypatch_module) -> Path:
    """A copy of the GX project: results and Data Docs of the test stay out of the checkout."""
    project = tmp_path_factory.mktemp("gx") / "expectations"
    shutil.copytree(gate.PROJECT_DIR, project, ignore=shutil.ignore_patterns("uncommitted"))
    monkeypatch_module.setenv("PHW_GX_PROJECT_DIR", str(project))
    return project


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture(scope="module")
def district(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("quality_district")
    generate(
        GenerateConfig(
            seed=23,
            residents=1200,
            start_year=2024,
            as_of=AS_OF,
            out=out,
            dirty=DirtyConfig(),
            workers=1,
        )
    )
    return out


@pytest.fixture(scope="module")
def day_one(
    district,
    warehouse_settings,
    admin_dsn,
    loader_dsn,
    gx_project,
    monkeypatch_module,
    tmp_path_factory,
) -> dict:
    """Day 1 ingested, built into marts_candidate, validated and published."""
    for key, value in warehouse_settings.warehouse_env().items():
        monkeypatch_module.setenv(key, value)
    wipe_raw(admin_dsn)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        for schema in ("marts_candidate", "marts_previous", "quality"):
            conn.execute(f"drop schema if exists {schema} cascade")
    provision(warehouse_settings)  # ops.publications and the quality schema again
    _ingest(loader_dsn, district, DAY_BEFORE, "day1")
    drops = tmp_path_factory.mktemp("drops")
    (drops / "population").mkdir()
    for csv in (district / "population").glob("*.csv"):
        (drops / "population" / csv.name).write_bytes(csv.read_bytes())
    file_drops.ingest_drop_folder(loader_dsn, drops, "qg")
    _build(warehouse_settings, tmp_path_factory.mktemp("t1"), DAY_BEFORE, "--full-refresh")
    result = tasks.validate_candidate(date.fromisoformat(DAY_BEFORE))
    publication_id = tasks.publish_candidate(result)
    return {"gate": result, "publication_id": publication_id}


def _results(dsn: str, run_id: str) -> dict[str, tuple]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "select check_name, kind, severity, passed, observed_value, threshold"
            " from quality.check_results where run_id = %s",
            (run_id,),
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def _last_run(dsn: str) -> tuple:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "select run_id, status, errors, warnings, message, publication_id"
            " from quality.gate_runs order by started_at desc limit 1"
        ).fetchone()


def test_bad_day_blocks_publication_and_the_next_good_day_publishes(
    day_one, district, warehouse_settings, admin_dsn, loader_dsn, bi_dsn, tmp_path
) -> None:
    first = day_one["publication_id"]
    quality_dsn = warehouse_settings.warehouse_url("quality")
    with psycopg.connect(admin_dsn) as conn:
        assert publication.current_publication(conn).publication_id == first
    published_day_one = _checksums(admin_dsn)
    assert "fct_indicator_values" in published_day_one
    assert _stamp(admin_dsn) == (first, date.fromisoformat(DAY_BEFORE))

    # --- a bad day: one service unit's follow-ups 40 % implausible -------------------------
    _ingest(loader_dsn, district, AS_OF, "day2")
    facility, records = _bad_bp_followups(loader_dsn)
    _build(warehouse_settings, tmp_path / "t2", AS_OF)
    with pytest.raises(tasks.QualityGateFailed) as failed:
        tasks.validate_candidate(date.fromisoformat(AS_OF))
    message = str(failed.value)
    assert "ERROR raw_implausible_bp_share (plausibility)" in message, message
    assert f'"facility_code": "{facility}"' in message, message  # names the service unit
    assert "marts not published" in message
    run_id, status, errors, _, _, publication_id = _last_run(quality_dsn)
    assert status == "failed" and errors >= 1 and publication_id is None
    results = _results(quality_dsn, run_id)
    kind, severity, passed, observed, threshold = results["raw_implausible_bp_share"]
    assert (kind, severity, passed, observed) == ("plausibility", "error", False, 1)
    assert "0.15" in threshold
    assert results["marts_numerator_le_denominator"][2] is True
    assert _checksums(admin_dsn) == published_day_one  # marts untouched
    assert _stamp(admin_dsn, "marts_candidate") == (None, date.fromisoformat(AS_OF))
    with psycopg.connect(admin_dsn) as conn:
        assert publication.current_publication(conn).publication_id == first

    # --- a township missing from the official population: blocked too ---------------------
    with psycopg.connect(admin_dsn) as conn:
        township, year = conn.execute(
            "select township_code, max(year) from raw.stat_population group by 1 order by 1 limit 1"
        ).fetchone()
        conn.execute(
            "create temporary table kept as select * from raw.stat_population"
            " where township_code = %s and year = %s",
            (township, year),
        )
        conn.execute(
            "delete from raw.stat_population where township_code = %s and year = %s",
            (township, year),
        )
        conn.commit()
        with pytest.raises(tasks.QualityGateFailed) as failed:
            tasks.validate_candidate(date.fromisoformat(AS_OF))
        assert "ERROR raw_population_complete (completeness)" in str(failed.value)
        conn.execute("insert into raw.stat_population select * from kept")
        conn.commit()
    assert _checksums(admin_dsn) == published_day_one

    # --- the next good day: corrections arrive; a warning is reported, not blocking --------
    _correct(loader_dsn, records)
    _build(warehouse_settings, tmp_path / "t3", AS_OF)
    result = tasks.validate_candidate(date.fromisoformat(AS_OF))
    assert result["warnings"] >= 1
    warnings = _results(quality_dsn, str(result["run_id"]))
    assert warnings["raw_dates_after_cutoff"][:3] == ("plausibility", "warning", False)
    assert warnings["raw_implausible_bp_share"][2] is True
    second = tasks.publish_candidate(result)
    published_day_two = _checksums(admin_dsn)
    assert published_day_two != published_day_one
    with psycopg.connect(admin_dsn) as conn:
        current = publication.current_publication(conn)
        assert current.publication_id == second
        assert current.data_cutoff_date == date.fromisoformat(AS_OF)
        row = conn.execute(
            "select checks_run, warnings, status from ops.publications where publication_id = %s",
            (second,),
        ).fetchone()
        assert row[0] >= 16 and row[1] >= 1
        assert row[2] == "published"
        assert _schema_names(conn) >= {"marts", "marts_previous"}
        assert "marts_candidate" not in _schema_names(conn)
    assert _checksums_of(admin_dsn, "marts_previous") == published_day_one
    # the stamp was written into the candidate in the publishing transaction: same instant as
    # ops.publications, as wall-clock time in Asia/Shanghai
    assert _stamp(admin_dsn) == (second, date.fromisoformat(AS_OF))
    assert _stamp(admin_dsn, "marts_previous") == (first, date.fromisoformat(DAY_BEFORE))
    with psycopg.connect(admin_dsn) as conn:
        stamped, recorded = conn.execute(
            "select s.published_at, p.published_at at time zone 'Asia/Shanghai'"
            " from marts.dashboard_publication as s join ops.publications as p using"
            " (publication_id)"
        ).fetchone()
        assert stamped == recorded
    with psycopg.connect(bi_dsn) as conn:  # the BI role reads the new marts, not the previous
        assert conn.execute("select count(*) from marts.fct_indicator_values").fetchone()[0] > 0
        stamp = conn.execute("select publication_id from marts.dashboard_publication")
        assert stamp.fetchone() == (second,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from marts_previous.fct_indicator_values")
    with psycopg.connect(warehouse_settings.warehouse_url("transformer")) as conn:
        conn.execute("create table marts.publication_probe as select 1 as n")  # e.g. a dbt run
        conn.commit()
    with psycopg.connect(bi_dsn) as conn:  # default privileges moved with the schema
        assert conn.execute("select n from marts.publication_probe").fetchone() == (1,)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute("drop table marts.publication_probe")

    # --- one-step rollback and re-publication ---------------------------------------------
    assert tasks.change_publication("rollback") == first
    assert _checksums(admin_dsn) == published_day_one
    assert _stamp(admin_dsn) == (first, date.fromisoformat(DAY_BEFORE))  # its stamp came back
    with psycopg.connect(bi_dsn) as conn:
        assert conn.execute("select count(*) from marts.dim_period").fetchone()[0] > 0
    assert tasks.change_publication("republish") == second
    assert _checksums(admin_dsn) == published_day_two
    assert _stamp(admin_dsn) == (second, date.fromisoformat(AS_OF))
    with psycopg.connect(admin_dsn) as conn:
        assert publication.current_publication(conn).publication_id == second


def test_a_day_without_an_entity_expected_daily_blocks(
    day_one, warehouse_settings, admin_dsn
) -> None:
    """History: ten hypertension follow-ups a day over the 28 days before the day; the day's
    load brings vaccinations only, updated over 19 hours (so about eight follow-ups were
    expected). The candidate is a copy of the published marts."""
    next_day = date.fromisoformat(AS_OF) + timedelta(days=1)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        since = conn.execute(
            "select max(raw_until) from quality.gate_runs where publication_id is not null"
        ).fetchone()[0]
        conn.execute(
            "insert into raw.htn_followups (record_id, version, source_updated_at, payload,"
            " batch_id, extracted_at, loaded_at)"
            " select 'HTFVOL' || lpad(i::text, 9, '0'), 1,"
            " %(day)s::timestamptz - (i / 10 + 1) * interval '1 day',"
            " f.payload || jsonb_build_object('record_id', 'HTFVOL' || lpad(i::text, 9, '0')),"
            " 'qg-history', %(since)s::timestamptz - interval '1 hour',"
            " %(since)s::timestamptz - interval '1 hour'"
            " from generate_series(0, 279) as i,"
            " (select payload from raw.htn_followups where is_latest limit 1) as f",
            {"day": f"{next_day}T10:00:00+00", "since": since},
        )
        conn.execute(
            "insert into raw.vaccinations (record_id, version, source_updated_at, payload,"
            " batch_id, extracted_at)"
            " select 'VACVOL' || lpad(i::text, 9, '0'), 1,"
            " %(day)s::timestamptz + i * interval '1 hour',"
            " v.payload || jsonb_build_object('record_id', 'VACVOL' || lpad(i::text, 9, '0')),"
            " 'qg-day3', now()"
            " from generate_series(0, 19) as i,"
            " (select payload from raw.vaccinations where is_latest and not is_deleted"
            " and field_issues is null and payload ->> 'facility_code'"
            " in (select record_id from raw.org_units) order by record_id limit 1) as v",
            {"day": f"{next_day}T10:00:00+00"},
        )
    with psycopg.connect(warehouse_settings.warehouse_url("transformer"), autocommit=True) as conn:
        conn.execute("drop schema if exists marts_candidate cascade")
        conn.execute("create schema marts_candidate")
        for (table,) in conn.execute(
            "select tablename from pg_tables where schemaname = 'marts'"
        ).fetchall():
            conn.execute(f"create table marts_candidate.{table} as table marts.{table}")
    with pytest.raises(tasks.QualityGateFailed) as failed:
        tasks.validate_candidate(next_day)
    message = str(failed.value)
    assert "ERROR raw_entity_present (completeness)" in message, message
    assert '"entity": "htn_followups"' in message, message
    assert "ERROR marts_" not in message, message  # the candidate itself is fine


def test_results_and_data_docs_are_kept(day_one, warehouse_settings, gx_project) -> None:
    docs = Path(str(day_one["gate"]["data_docs"]))
    assert docs.is_file() and docs.is_relative_to(gx_project)
    with psycopg.connect(warehouse_settings.warehouse_url("quality")) as conn:
        kinds = conn.execute(
            "select kind, count(*) from quality.check_results group by 1 order by 1"
        ).fetchall()
    assert {k for k, _ in kinds} == {"completeness", "conformance", "plausibility"}


def _schema_names(conn: psycopg.Connection) -> set[str]:
    return {n for (n,) in conn.execute("select nspname from pg_namespace").fetchall()}


def _checksums_of(dsn: str, schema: str) -> dict[str, str]:
    with psycopg.connect(dsn) as conn:
        return publish.checksum(conn, schema)


def test_quality_role_reads_what_it_validates_and_writes_only_quality(
    day_one, warehouse_settings, admin_dsn
) -> None:
    quality_dsn = warehouse_settings.warehouse_url("quality")
    with psycopg.connect(admin_dsn) as conn:
        owners = conn.execute(
            "select distinct tableowner from pg_tables where schemaname = 'quality'"
        ).fetchall()
    assert owners == [("phw_quality",)]  # the gate ran as the quality role
    with psycopg.connect(quality_dsn, autocommit=True) as conn:
        assert conn.execute("select count(*) from raw.residents").fetchone()[0] > 0
        assert conn.execute("select count(*) from reference.indicator_targets").fetchone()[0]
        assert conn.execute("select count(*) from ops.publications").fetchone()[0] >= 1
        conn.execute("create table quality.scratch (x int)")
        conn.execute("drop table quality.scratch")
        for statement in (
            "create table marts.scratch (x int)",
            "create table raw.scratch (x int)",
            "create table staging.scratch (x int)",
            "insert into ops.publications (publication_id, data_cutoff_date, candidate_schema)"
            " values ('x', current_date, 'x')",
            "delete from raw.residents",
            "create schema scratch",
            "create temporary table scratch (x int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
