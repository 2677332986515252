"""The incremental person x window tables equal a full refresh after a day of new data.

Simulates a small district, ingests it as of the day before plus two records dated the next
day (entered early: the day-before cut-off excludes them, the next one counts them), builds
from scratch; then ingests the next day over the API plus three late changes to old windows (a
2025 hypertension follow-up turned into a telephone follow-up, a 2025 family-doctor contract
deleted, an EHR moved to another facility), builds incrementally, and compares every row with a
`--full-refresh` of the same data. The change margin is 0 so that the incremental run really
recomputes only the changed persons (the test checks that too). Then the same for the first day
of the next year (new windows for everyone, and 2024 leaves the reporting history) and for a
cut-off moved back (everything). Last, org units loaded between a model's render and its
strategy: the model stops and keeps its rows.

The second test goes through the pipeline's run plan (phwarehouse.pipeline.dbt_selection): a
first `dbt build` planned in full, the next day's build selecting only what changed with its data
tests scoped to the rows it wrote, then a planned full refresh; the person x window tables and
every mart must be the same row for row.
"""

from __future__ import annotations

import json
import shutil
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest
from tests.conftest import DBT_DIR, mart_rows, run_dbt, wipe_raw

from phwarehouse.ingestion import file_drops, raw_store
from phwarehouse.ingestion.client import PlatformClient
from phwarehouse.ingestion.contracts import ENTITIES
from phwarehouse.ingestion.platform_ingest import ingest_entity
from phwarehouse.pipeline import dbt_selection
from phwarehouse.platform.dirty import DirtyConfig
from phwarehouse.platform.generate import GenerateConfig, generate
from phwarehouse.platform.ids import check_digit_of
from phwarehouse.platform.server import make_server

pytestmark = pytest.mark.warehouse

AS_OF = "2026-11-22"
DAY_BEFORE = (date.fromisoformat(AS_OF) - timedelta(days=1)).isoformat()
# the first day of a year: its windows start (1 December starts none: December's window is the
# year's and Q4's, computed once under the coarsest period, macros/reporting_periods.sql)
NEW_YEAR = "2027-01-01"
FIRST_OF_DECEMBER = "2026-12-01"
INCREMENTAL_TABLES = {
    "int_child__health_check_windows": ("child_key", "period_key"),
    "int_persons": ("person_key",),
    "int_service_records": ("entity", "record_id"),
    "int_records__person_window_spans": ("person_sk", "first_period_end"),
    "int_chronic__htn_t2d_windows": ("condition", "person_sk", "period_key"),
    "int_elderly__person_windows": ("person_sk", "period_key"),
    "int_child__tcm_windows": ("person_sk", "period_key"),
    "int_child__vaccination_due_doses": ("person_sk", "vaccine_code", "dose_number"),
    "int_child__vaccination_windows": ("person_sk", "vaccine_code", "dose_number", "period_key"),
    "int_chronic__smd_windows": ("person_sk", "period_key"),
    "int_elderly__exam_completeness": ("person_sk", "exam_record_id"),
}
# rows per reported period, dose or exam, not per window (person_window_state(periods=true))
PER_PERIOD_TABLES = (
    "int_child__health_check_windows",
    "int_child__tcm_windows",
    "int_child__vaccination_due_doses",
    "int_child__vaccination_windows",
    "int_chronic__smd_windows",
    "int_elderly__exam_completeness",
)
# newborns visited before they had an EHR (_dated_tomorrow, _late_changes)
NEWBORNS_WITHOUT_EHR = ("NB-LATE-A", "NB-LATE-B", "NB-LATE-C", "NB-LATE-D")
BUILD_COLUMNS = ("inputs_loaded_through", "data_cutoff_date", "built_at")  # differ by design
RECORDS_WINDOWS = "int_records__person_windows"  # the view that gives the spans back per window
SELECT = " ".join(f"+{t}" for t in (*INCREMENTAL_TABLES, RECORDS_WINDOWS))


def _ingest(loader_dsn: str, district: Path, as_of: str, batch: str) -> None:
    server = make_server(district, "inc", port=0, as_of=as_of)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with PlatformClient(url, "inc", page_size=5000) as client:
            for entity in ENTITIES:
                until = datetime.now(UTC) + timedelta(days=3650)  # the server's as-of limits
                result = ingest_entity(loader_dsn, client, entity, f"{batch}:{entity}", until)
                assert result.counts.reconciles
    finally:
        server.shutdown()
        server.server_close()


def _dbt_run(settings, target: Path, cutoff: str, *extra: str) -> None:
    result = run_dbt(
        "run",
        "--select",
        SELECT,
        "--vars",
        f"{{data_cutoff_date: '{cutoff}', incremental_change_margin_hours: 0}}",
        *extra,
        target=target,
        env=settings.warehouse_env(),
    )
    assert result.returncode == 0, result.stdout[-6000:]


#: joined to raw.residents as r: `other.code`, a facility other than the EHR's (the first by code)
ANOTHER_FACILITY = (
    " cross join lateral ("
    "   select payload ->> 'org_unit_code' as code from raw.org_units"
    "   where is_latest and payload ->> 'level' = 'facility'"
    "   and payload ->> 'org_unit_code' <> r.payload ->> 'managing_facility_code'"
    "   order by 1 limit 1) as other"
)


def _late_changes(loader_dsn: str) -> str:
    """Corrections the platform could send today about old records (windows no longer open):
    a follow-up's mode, an SMD follow-up's stability, a contract deleted, an EHR's facility, an
    EHR's ID number, an EHR deleted, the EHR deleted before the first build (_dated_tomorrow)
    restored, and an older version of a follow-up naming no EHR received late. Returns the
    month (period key) of the corrected SMD follow-up."""
    now = datetime.now(UTC)
    with psycopg.connect(loader_dsn) as conn:
        followup = conn.execute(
            "select record_id, version, payload from raw.htn_followups"
            " where is_latest and not is_deleted and payload ->> 'followup_mode' = 'face_to_face'"
            " and payload ->> 'followup_date' between '2025-02-01' and '2025-05-31'"
            " order by record_id limit 1"
        ).fetchone()
        # the last follow-up of its month (so the month's is_stable depends on it) of a
        # patient with a registry card
        smd_followup = conn.execute(
            "select f.record_id, f.version, f.payload from raw.smd_followups as f"
            " where f.is_latest and not f.is_deleted and f.payload ->> 'stability' = '稳定'"
            " and f.payload ->> 'followup_date' between '2025-01-01' and '2025-12-31'"
            " and exists (select from raw.smd_registry as c where c.is_latest"
            "   and not c.is_deleted"
            "   and c.payload ->> 'person_record_id' = f.payload ->> 'person_record_id')"
            " and not exists (select from raw.smd_followups as o where o.is_latest"
            "   and not o.is_deleted and o.record_id <> f.record_id"
            "   and o.payload ->> 'person_record_id' = f.payload ->> 'person_record_id'"
            "   and left(o.payload ->> 'followup_date', 7) = left(f.payload ->> 'followup_date', 7)"
            "   and o.payload ->> 'followup_date' >= f.payload ->> 'followup_date')"
            " order by f.record_id limit 1"
        ).fetchone()
        contract = conn.execute(
            "select record_id, version from raw.family_doctor_contracts"
            " where is_latest and not is_deleted and payload ->> 'start_date' < '2025-06-01'"
            " order by record_id limit 1"
        ).fetchone()
        ehr = conn.execute(
            "select r.record_id, r.version, r.payload, other.code from raw.residents as r"
            + ANOTHER_FACILITY
            + " where r.is_latest and not r.is_deleted"
            " and r.payload ->> 'ehr_created_on' < '2024-06-01'"
            " and r.payload ->> 'ehr_closed_on' is null"
            " order by r.record_id limit 1"
        ).fetchone()
        # an EHR whose ID number is corrected to another EHR's: the two persons merge, and the
        # records of both (and of the person the EHR was before) change person
        merged = conn.execute(
            "select r.record_id, r.version, r.payload, other.id_number"
            " from raw.residents as r cross join lateral ("
            "   select o.payload ->> 'id_number' as id_number from raw.residents as o"
            "   where o.is_latest and not o.is_deleted and o.record_id > r.record_id"
            "   and o.payload ->> 'id_number' <> r.payload ->> 'id_number'"
            "   order by o.record_id limit 1) as other"
            " where r.is_latest and not r.is_deleted and r.record_id <> %s"
            " and exists (select from raw.htn_followups as f where f.is_latest"
            "   and f.payload ->> 'person_record_id' = r.record_id)"
            " order by r.record_id limit 1",
            (ehr[0] if ehr else "",),
        ).fetchone()
        assert followup and smd_followup and contract and ehr and merged, (
            "the fixture district lacks old records"
        )
        changes = {
            "htn_followups": raw_store.ValidRecord(
                followup[0],
                followup[1] + 1,
                now,
                False,
                {**followup[2], "followup_mode": "telephone"},
            ),
            "smd_followups": raw_store.ValidRecord(
                smd_followup[0],
                smd_followup[1] + 1,
                now,
                False,
                {**smd_followup[2], "stability": "不稳定"},
            ),
            "family_doctor_contracts": raw_store.ValidRecord(
                contract[0], contract[1] + 1, now, True, {"record_id": contract[0], "deleted": True}
            ),
            "residents": raw_store.ValidRecord(
                ehr[0], ehr[1] + 1, now, False, {**ehr[2], "managing_facility_code": ehr[3]}
            ),
        }
        for entity, record in changes.items():
            counts = raw_store.load_records(conn, entity, "late-fix", now, [record], [])
            assert counts.loaded == 1, entity
        merge = raw_store.ValidRecord(
            merged[0], merged[1] + 1, now, False, {**merged[2], "id_number": merged[3]}
        )
        restored = conn.execute(
            "select kept.record_id, deleted.version, kept.payload from raw.residents as deleted"
            " inner join raw.residents as kept on kept.record_id = deleted.record_id"
            " and kept.version = deleted.version - 1"
            " where deleted.is_latest and deleted.is_deleted and deleted.batch_id = 'early-entry'"
        ).fetchone()
        restore = raw_store.ValidRecord(restored[0], restored[1] + 1, now, False, restored[2])
        # and an EHR deleted today: its records belong to no known person any more
        deleted = conn.execute(
            "select e.record_id, e.version from raw.residents as e"
            " where e.is_latest and not e.is_deleted and e.record_id <> all(%s)"
            " and exists (select from raw.htn_followups as f where f.is_latest"
            "   and f.payload ->> 'person_record_id' = e.record_id)"
            " order by e.record_id offset 2 limit 1",
            ([ehr[0], merged[0], restored[0]],),
        ).fetchone()
        delete = raw_store.ValidRecord(
            deleted[0], deleted[1] + 1, now, True, {"record_id": deleted[0], "deleted": True}
        )
        counts = raw_store.load_records(
            conn, "residents", "late-fix", now, [merge, restore, delete], []
        )
        assert counts.loaded == 3
        _newborn_changes(conn, now)
        # an older version received late: the record stays as its latest version says
        orphan_id, orphan = conn.execute(
            "select record_id, payload from raw.htn_followups where record_id like '%-orphan'"
        ).fetchone()
        late = raw_store.ValidRecord(orphan_id, 1, now, False, {**orphan, "followup_mode": "x"})
        counts = raw_store.load_records(conn, "htn_followups", "late-fix", now, [late], [])
        assert counts.loaded == 1
    return smd_followup[2]["followup_date"][:7]


def _newborn_changes(conn: psycopg.Connection, now: datetime) -> None:
    """The newborn visits _dated_tomorrow entered without a child EHR: the first one's mother
    moves to another facility (the child's facility follows hers), the second newborn gets its
    EHR (its visit leaves the 'NBV:' child for the new person), the third visit is deleted and
    the fourth one's mother EHR too (the visit names no known person any more)."""
    first, second, third, fourth = (
        conn.execute(
            "select record_id, version, payload from raw.newborn_visits"
            " where is_latest and payload ->> 'person_record_id' = %s",
            (newborn,),
        ).fetchone()
        for newborn in NEWBORNS_WITHOUT_EHR
    )
    mother_id, version, mother, other = conn.execute(
        "select r.record_id, r.version, r.payload, other.code from raw.residents as r"
        + ANOTHER_FACILITY
        + " where r.is_latest and not r.is_deleted and r.record_id = %s",
        (first[2]["mother_person_record_id"],),
    ).fetchone()
    child = conn.execute(
        "select payload from raw.residents where is_latest and not is_deleted"
        " and payload ->> 'birth_date' >= '2024-01-01' order by record_id limit 1"
    ).fetchone()[0]
    body = "41010820250301999"  # born 2025-03-01 in the district, an unused sequence number
    newborn = {
        **child,
        "record_id": second[2]["person_record_id"],
        "birth_date": "2025-03-01",
        "ehr_created_on": "2025-03-05",
        "id_number": body + str(check_digit_of(np.array([int(body)]))[0]),
    }
    counts = raw_store.load_records(
        conn,
        "residents",
        "late-fix",
        now,
        [
            raw_store.ValidRecord(
                mother_id,
                version + 1,
                now,
                False,
                {**mother, "managing_facility_code": other},
            ),
            raw_store.ValidRecord(newborn["record_id"], 1, now, False, newborn),
        ],
        [],
    )
    assert counts.loaded == 2
    tombstone = raw_store.ValidRecord(
        third[0], third[1] + 1, now, True, {"record_id": third[0], "deleted": True}
    )
    counts = raw_store.load_records(conn, "newborn_visits", "late-fix", now, [tombstone], [])
    assert counts.loaded == 1
    mother_id, version = conn.execute(
        "select record_id, version from raw.residents"
        " where is_latest and not is_deleted and record_id = %s",
        (fourth[2]["mother_person_record_id"],),
    ).fetchone()
    tombstone = raw_store.ValidRecord(
        mother_id, version + 1, now, True, {"record_id": mother_id, "deleted": True}
    )
    counts = raw_store.load_records(conn, "residents", "late-fix", now, [tombstone], [])
    assert counts.loaded == 1


def _dated_tomorrow(loader_dsn: str) -> None:
    """Before the first build: a follow-up and an elderly health exam corrected to the next
    day's date, and a death registered for it: only the cut-off moving on makes them count
    (their persons change no other way); an EHR deleted, which _late_changes restores; and a
    follow-up naming no EHR, whose older version _late_changes receives."""
    now = datetime.now(UTC)
    with psycopg.connect(loader_dsn) as conn:
        elderly = (
            "and payload ->> 'person_record_id' in (select record_id from raw.residents"
            " where is_latest and payload ->> 'birth_date' < '1950-01-01')"
        )
        registered = (
            "and payload ->> 'followup_mode' = 'face_to_face' and payload ->> 'person_record_id'"
            " in (select payload ->> 'person_record_id' from raw.htn_registry where is_latest"
            " and payload ->> 'enrolled_on' < '2026-01-01' and payload ->> 'withdrawn_on' is null)"
        )
        for entity, date_field, extra in (
            ("htn_followups", "followup_date", registered),
            ("health_exams", "exam_date", elderly),
        ):
            record_id, version, payload = conn.execute(
                f"select record_id, version, payload from raw.{entity}"
                f" where is_latest and not is_deleted and payload ->> '{date_field}'"
                f" >= '2026-01-01' {extra}"
                " order by record_id desc limit 1"  # not the persons _late_changes picks
            ).fetchone()
            record = raw_store.ValidRecord(
                record_id, version + 1, now, False, {**payload, date_field: AS_OF}
            )
            counts = raw_store.load_records(conn, entity, "early-entry", now, [record], [])
            assert counts.loaded == 1, entity
        # a death registered ahead of its date for a person with services: from the next cut-off
        # the person's death date is set, on every record of theirs
        death, ehr_record_id, id_number = conn.execute(
            "select d.payload, r.record_id, r.payload ->> 'id_number'"
            " from raw.deaths as d cross join lateral ("
            "   select e.record_id, e.payload from raw.residents as e"
            "   where e.is_latest and not e.is_deleted and e.payload ->> 'ehr_closed_on' is null"
            "   and exists (select from raw.htn_followups as f where f.is_latest"
            "     and f.payload ->> 'person_record_id' = e.record_id)"
            "   order by e.record_id desc limit 1) as r"
            " where d.is_latest and not d.is_deleted order by d.record_id limit 1"
        ).fetchone()
        record_id = death["record_id"] + "-early"
        record = raw_store.ValidRecord(
            record_id,
            1,
            now,
            False,
            {
                **death,
                "record_id": record_id,
                "person_record_id": ehr_record_id,
                "id_number": id_number,
                "death_date": AS_OF,
            },
        )
        counts = raw_store.load_records(conn, "deaths", "early-entry", now, [record], [])
        assert counts.loaded == 1
        # a follow-up naming no EHR (version 2; _late_changes receives its version 1 late)
        followup_id, payload = conn.execute(
            "select record_id, payload from raw.htn_followups where is_latest and not is_deleted"
            " order by record_id limit 1"
        ).fetchone()
        orphan = {**payload, "record_id": f"{followup_id}-orphan", "person_record_id": "EHR-NONE"}
        record = raw_store.ValidRecord(orphan["record_id"], 2, now, False, orphan)
        counts = raw_store.load_records(conn, "htn_followups", "early-entry", now, [record], [])
        assert counts.loaded == 1
        # an EHR deleted by mistake: its records belong to no known person until it is restored
        # (_late_changes), and their rows change although the records do not
        lost = conn.execute(
            "select e.record_id, e.version from raw.residents as e"
            " where e.is_latest and not e.is_deleted and e.payload ->> 'ehr_closed_on' is null"
            " and exists (select from raw.htn_followups as f where f.is_latest"
            "   and f.payload ->> 'person_record_id' = e.record_id)"
            " order by e.record_id desc offset 1 limit 1"
        ).fetchone()
        tombstone = raw_store.ValidRecord(
            lost[0], lost[1] + 1, now, True, {"record_id": lost[0], "deleted": True}
        )
        counts = raw_store.load_records(conn, "residents", "early-entry", now, [tombstone], [])
        assert counts.loaded == 1
        # newborn visits naming no child EHR, so their child is the newborn ('NBV:' keys of
        # int_child__health_check_windows), each of another mother: _newborn_changes moves
        # the first one's mother to another facility, gives the second newborn its EHR, deletes
        # the third visit and the fourth one's mother
        visits = conn.execute(
            "select distinct on (mother.record_id) visit.record_id, visit.payload"
            " from raw.newborn_visits as visit inner join raw.residents as mother"
            "   on mother.record_id = visit.payload ->> 'mother_person_record_id'"
            " where visit.is_latest and not visit.is_deleted and mother.is_latest"
            " and not mother.is_deleted and mother.payload ->> 'ehr_closed_on' is null"
            " order by mother.record_id desc, visit.record_id limit 4"
        ).fetchall()
        assert len(visits) == 4, "the fixture district lacks newborn visits"
        records = [
            raw_store.ValidRecord(
                f"{record_id}-{newborn}",
                1,
                now,
                False,
                {
                    **payload,
                    "record_id": f"{record_id}-{newborn}",
                    "person_record_id": newborn,
                    "birth_date": "2025-03-01",
                    "visit_date": "2025-03-10",
                },
            )
            for (record_id, payload), newborn in zip(visits, NEWBORNS_WITHOUT_EHR, strict=True)
        ]
        counts = raw_store.load_records(conn, "newborn_visits", "early-entry", now, records, [])
        assert counts.loaded == 4


def _rewritten(admin_dsn: str, table: str, cutoff: str) -> tuple[int, int]:
    """The rows a build with this cut-off wrote (their build state says so), and all rows."""
    with psycopg.connect(admin_dsn) as conn:
        return conn.execute(
            "select count(*) filter (where data_cutoff_date = %s::date), count(*)"
            f" from intermediate.{table}",
            (cutoff,),
        ).fetchone()


def _columns(admin_dsn: str, table: str) -> list[str]:
    """The table's columns but its build state, in order (the columns of `_rows`' tuples)."""
    with psycopg.connect(admin_dsn) as conn:
        return [
            c
            for (c,) in conn.execute(
                "select column_name from information_schema.columns"
                " where table_schema = 'intermediate' and table_name = %s"
                " and column_name <> all(%s) order by ordinal_position",
                (table, list(BUILD_COLUMNS)),
            ).fetchall()
        ]


def _rows(admin_dsn: str, table: str, key: tuple[str, ...]) -> list[tuple]:
    columns = _columns(admin_dsn, table)
    with psycopg.connect(admin_dsn) as conn:
        return conn.execute(
            f"select {', '.join(columns)} from intermediate.{table} order by {', '.join(key)}"
        ).fetchall()


@pytest.fixture(scope="module")
def district(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("incremental_district")
    generate(
        GenerateConfig(
            seed=11,
            residents=2500,
            start_year=2024,
            as_of=AS_OF,
            out=out,
            dirty=DirtyConfig(),
            workers=1,
        )
    )
    return out


def test_incremental_run_after_a_day_equals_a_full_refresh(
    district: Path, warehouse_settings, admin_dsn: str, loader_dsn: str, tmp_path
) -> None:
    wipe_raw(admin_dsn)
    _ingest(loader_dsn, district, DAY_BEFORE, "day1")
    _dated_tomorrow(loader_dsn)
    seeded = run_dbt("seed", target=tmp_path / "t0", env=warehouse_settings.warehouse_env())
    assert seeded.returncode == 0, seeded.stdout[-3000:]
    _dbt_run(warehouse_settings, tmp_path / "t1", DAY_BEFORE, "--full-refresh")
    before_rows = {t: _rows(admin_dsn, t, k) for t, k in INCREMENTAL_TABLES.items()}
    before = {t: len(rows) for t, rows in before_rows.items()}

    _ingest(loader_dsn, district, AS_OF, "day2")
    smd_month = _late_changes(loader_dsn)
    _dbt_run(warehouse_settings, tmp_path / "t2", AS_OF)
    incremental = {t: _rows(admin_dsn, t, k) for t, k in INCREMENTAL_TABLES.items()}
    for table in INCREMENTAL_TABLES:
        rewritten, total = _rewritten(admin_dsn, table, AS_OF)
        # the run rewrote the changed persons, not the whole table (this district's SMD table
        # has 350 rows, 7 patients x 50 reported periods: one patient is a seventh of it)
        share = 1 / 5 if table == "int_chronic__smd_windows" else 1 / 10
        assert 0 < rewritten < total * share, (table, rewritten, total, before[table])
    # the SMD follow-up corrected to 不稳定 changed its 2025 month: a closed window recomputed
    smd = "int_chronic__smd_windows"
    period, stable = (_columns(admin_dsn, smd).index(c) for c in ("period_key", "is_stable"))
    changed = set(incremental[smd]) - set(before_rows[smd])
    assert any(row[period] == smd_month and not row[stable] for row in changed), (
        smd_month,
        sorted(changed)[:5],
    )
    # the newborns without an EHR (_newborn_changes): the first one's rows follow its mother
    # to her new facility, the others' are gone (an EHR; a deleted visit; no mother)
    checks = "int_child__health_check_windows"
    key, facility = (_columns(admin_dsn, checks).index(c) for c in ("child_key", "facility_code"))
    facilities = {
        when: {
            newborn: {row[facility] for row in rows[checks] if row[key] == f"NBV:{newborn}"}
            for newborn in NEWBORNS_WITHOUT_EHR
        }
        for when, rows in (("before", before_rows), ("after", incremental))
    }
    assert all(facilities["before"].values()), facilities
    first, *gone = NEWBORNS_WITHOUT_EHR
    assert facilities["after"][first] and facilities["after"][first] != facilities["before"][first]
    assert not any(facilities["after"][newborn] for newborn in gone), facilities

    _dbt_run(warehouse_settings, tmp_path / "t3", AS_OF, "--full-refresh")
    full_as_of = {t: _rows(admin_dsn, t, k) for t, k in INCREMENTAL_TABLES.items()}
    assert not _differences(incremental, full_as_of)

    # 1 December starts a reported period (2026-12) but no window (December's is the year's):
    # the tables per reported period or dose are recomputed whole, the per-window ones not
    _dbt_run(warehouse_settings, tmp_path / "t3a", FIRST_OF_DECEMBER)
    incremental = {t: _rows(admin_dsn, t, k) for t, k in INCREMENTAL_TABLES.items()}
    for table in PER_PERIOD_TABLES:
        rewritten, total = _rewritten(admin_dsn, table, FIRST_OF_DECEMBER)
        assert rewritten == total, (table, rewritten, total)
    rewritten, total = _rewritten(admin_dsn, "int_elderly__person_windows", FIRST_OF_DECEMBER)
    assert rewritten < total / 10, (rewritten, total)
    for table in ("int_child__tcm_windows", "int_child__vaccination_windows", smd):
        at = _columns(admin_dsn, table).index("period_key")
        assert "2026-12" in {row[at] for row in incremental[table]}, table
    _dbt_run(warehouse_settings, tmp_path / "t3b", FIRST_OF_DECEMBER, "--full-refresh")
    full = {t: _rows(admin_dsn, t, k) for t, k in INCREMENTAL_TABLES.items()}
    assert not _differences(incremental, full)

    # the first day of a year: the year's windows start, computed for everyone
    _dbt_run(warehouse_settings, tmp_path / "t4", NEW_YEAR)
    incremental = {t: _rows(admin_dsn, t, k) for t, k in INCREMENTAL_TABLES.items()}
    _dbt_run(warehouse_settings, tmp_path / "t5", NEW_YEAR, "--full-refresh")
    full = {t: _rows(admin_dsn, t, k) for t, k in INCREMENTAL_TABLES.items()}
    assert not _differences(incremental, full)
    windows = {row[1] for row in _rows(admin_dsn, RECORDS_WINDOWS, ("person_sk", "period_key"))}
    assert {"2027-01", "2027-Q1", "2027"} <= windows  # the new windows
    assert "2026" in windows and not {"2026-12", "2026-Q4"} & windows  # one window, once
    assert not any(key.startswith("2024") for key in windows)  # left the history

    # the cut-off moved back (a re-run of a past day): everything is recomputed, and each table
    # refilled whole is analyzed for the models that read it next
    analyzed = _analyze_counts(admin_dsn)
    _dbt_run(warehouse_settings, tmp_path / "t6", AS_OF)
    incremental = {t: _rows(admin_dsn, t, k) for t, k in INCREMENTAL_TABLES.items()}
    assert not _differences(incremental, full_as_of)
    again = _analyze_counts(admin_dsn)
    assert all(again[t] > analyzed[t] for t in INCREMENTAL_TABLES), (analyzed, again)

    # org units loaded after the model was rendered incrementally, before its strategy ran: the
    # strategy reads state 'full' (forced here in a copy of the project) and would truncate a
    # table its rows cover only in part. The model stops with an error and writes nothing.
    project = tmp_path / "race_project"
    shutil.copytree(DBT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    strategy = project / "macros" / "person_windows.sql"
    text = strategy.read_text()
    read_state = """'person_window',
        person_window_state(
            spans='person_window_spans: true' in rendered,
            periods='person_window_periods: true' in rendered,
        ),"""
    assert text.count(read_state) == 1
    strategy.write_text(text.replace(read_state, "'person_window', {'mode': 'full'}"))
    table = "int_elderly__person_windows"
    raced = run_dbt(
        "run",
        "--select",
        table,
        "--vars",
        f"{{data_cutoff_date: '{AS_OF}', incremental_change_margin_hours: 0}}",
        target=tmp_path / "t7",
        env=warehouse_settings.warehouse_env(),
        project=project,
    )
    assert raced.returncode != 0
    assert "org units were loaded while it was being built" in raced.stdout, raced.stdout[-3000:]
    assert _rows(admin_dsn, table, INCREMENTAL_TABLES[table]) == incremental[table]


def _analyze_counts(admin_dsn: str) -> dict[str, int]:
    """How many times each incremental table was analyzed (ANALYZE, not autovacuum)."""
    with psycopg.connect(admin_dsn) as conn:
        return dict(
            conn.execute(
                "select relname, analyze_count from pg_stat_user_tables"
                " where schemaname = 'intermediate' and relname = any(%s)",
                (list(INCREMENTAL_TABLES),),
            ).fetchall()
        )


def _differences(incremental: dict, full: dict) -> dict:
    """Per table: rows only in the incremental result, only in the full refresh, examples."""
    differing = {}
    for table in INCREMENTAL_TABLES:
        rows, expected = set(incremental[table]), set(full[table])
        if rows != expected:
            examples = sorted(rows ^ expected, key=repr)[:2]
            differing[table] = (len(rows - expected), len(expected - rows), examples)
    return differing


PLANNED_VARS = "{incremental_change_margin_hours: 0}"


def _planned_build(settings, admin_dsn: str, kept: Path, cutoff: str, full_refresh: bool = False):
    """One transform run as the pipeline plans it, with dbt's target folder and the plan's state
    kept between runs (kept/target, kept/plan)."""
    target, state_dir = kept / "target", kept / "plan"
    manifest_path = target / "manifest.json"
    if not manifest_path.exists():
        parsed = run_dbt(
            "parse", "--vars", PLANNED_VARS, target=target, env=settings.warehouse_env()
        )
        assert parsed.returncode == 0, parsed.stdout[-3000:]
    plan = dbt_selection.plan_for(
        admin_dsn,
        manifest_path,
        state_dir,
        data_cutoff_date=cutoff,
        full_refresh=full_refresh,
        margin=timedelta(0),
    )
    result = run_dbt(
        "build",
        "--vars",
        PLANNED_VARS,
        "--exclude-resource-type",
        "unit_test",
        *plan.dbt_args(),
        target=target,
        env={
            **settings.warehouse_env(),
            "PHW_DATA_CUTOFF_DATE": cutoff,
            **plan.dbt_env(),
        },
    )
    failures = [
        line
        for line in result.stdout.splitlines()
        if "ERROR" in line or "FAIL " in line or "Error" in line or "error" in line
    ]
    assert result.returncode == 0, (plan.summary(), failures[:40] or result.stdout[-6000:])
    dbt_selection.save_state(state_dir, plan.next_state)
    return plan, json.loads((target / "run_results.json").read_text())["results"]


def test_planned_daily_build_with_scoped_tests_equals_a_full_refresh(
    district: Path, warehouse_settings, admin_dsn: str, loader_dsn: str, tmp_path
) -> None:
    wipe_raw(admin_dsn)
    kept = dbt_selection.private_dir(tmp_path / "kept")
    _ingest(loader_dsn, district, DAY_BEFORE, "day1")
    drops = tmp_path / "drops"
    (drops / "population").mkdir(parents=True)
    for csv in (district / "population").glob("*.csv"):
        (drops / "population" / csv.name).write_bytes(csv.read_bytes())
    file_drops.ingest_drop_folder(loader_dsn, drops, "planned")
    _dated_tomorrow(loader_dsn)
    first, _ = _planned_build(warehouse_settings, admin_dsn, kept, DAY_BEFORE)
    assert first.full and first.tests_loaded_after == ""
    # no new rows, the same cut-off: only the marts (a new candidate schema each run)
    again, _ = _planned_build(warehouse_settings, admin_dsn, kept, DAY_BEFORE)
    assert not again.full
    assert set(again.changed_sources) <= {"ingestion.quarantine"}  # no loaded_at: always
    assert "stg_platform__residents" in again.skipped
    assert "stg_platform__stat_population" in again.skipped
    assert "int_records__person_windows" in again.skipped

    _ingest(loader_dsn, district, AS_OF, "day2")
    _late_changes(loader_dsn)
    plan, results = _planned_build(warehouse_settings, admin_dsn, kept, AS_OF)
    assert not plan.full and plan.tests_loaded_after
    assert {"platform.htn_followups", "platform.residents"} <= set(plan.changed_sources)
    assert "int_records__person_windows" in plan.select
    if "platform.org_units" not in plan.changed_sources:
        assert "stg_platform__org_units" in plan.skipped
    # the data tests of the incremental models check the rows loaded since the last build
    bound = f"timestamptz '{plan.tests_loaded_after}'"
    scoped = {r["unique_id"] for r in results if bound in (r.get("compiled_code") or "")}
    # the staging tables', int_person_changes' and int_service_records' not-null columns,
    # accepted values and keys are PostgreSQL's constraints and unique indexes: no data test
    tested = {r["unique_id"] for r in results if r["unique_id"].startswith("test.")}
    assert not any("_stg_platform__residents_" in t for t in tested), sorted(tested)
    assert not any("_int_person_changes_" in t for t in tested), sorted(tested)
    # the view over every raw version: its tests read only the versions loaded since
    assert any("_stg_platform__record_versions_" in t for t in scoped), sorted(scoped)[:5]
    assert not any("fct_indicator_values" in t for t in scoped)  # marts: every row
    # the person-scoped tables' tests read the rows the run wrote; their keys are unique
    # indexes, which a person_sk hash collision with any other person fails as it goes in
    assert any(t.startswith("test.public_health.relationships_int_persons_") for t in scoped)
    assert not any("_int_service_records_" in t for t in tested), sorted(tested)
    with psycopg.connect(admin_dsn) as conn:
        unique_keys = conn.execute(
            "select array_agg(a.attname order by k.ord)::text from pg_index as i"
            " cross join unnest(i.indkey) with ordinality as k (attnum, ord)"
            " join pg_attribute as a on a.attrelid = i.indrelid and a.attnum = k.attnum"
            " where i.indisunique and i.indrelid = 'intermediate.int_persons'::regclass"
            " group by i.indexrelid"
        ).fetchall()
        # the incremental tables, built by the first full build, keep their NOT NULL columns
        not_null = conn.execute(
            "select attrelid::regclass::text, attname from pg_attribute where attnotnull"
            " and attrelid in ('intermediate.int_person_changes'::regclass,"
            " 'staging.stg_platform__residents'::regclass)"
            " and attname in ('person_key', 'last_loaded_at', 'record_id', 'loaded_at')"
        ).fetchall()
        # and their check constraints, once each (the incremental run added none)
        checks = conn.execute(
            "select conname from pg_constraint where contype = 'c'"
            " and conrelid = 'intermediate.int_persons'::regclass"
        ).fetchall()
    assert sorted(unique_keys) == [("{person_key}",), ("{person_sk}",)]
    assert sorted(not_null) == [
        ("intermediate.int_person_changes", "last_loaded_at"),
        ("intermediate.int_person_changes", "person_key"),
        ("staging.stg_platform__residents", "person_key"),
        ("staging.stg_platform__residents", "record_id"),
    ]
    assert sorted(c[:-9] for (c,) in checks) == ["attribution_method_check", "sex_code_check"]
    incremental = {t: _rows(admin_dsn, t, k) for t, k in INCREMENTAL_TABLES.items()}
    incremental_marts = mart_rows(admin_dsn, "marts")
    assert incremental_marts["fct_indicator_values"]
    # dbt's manifest now lists the macros of the incremental branches it compiled: no change
    # of definition for the plan, which stays incremental
    quiet, _ = _planned_build(warehouse_settings, admin_dsn, kept, AS_OF)
    assert not quiet.full, quiet.reason
    assert "int_records__person_window_spans" in quiet.skipped

    full, results = _planned_build(warehouse_settings, admin_dsn, kept, AS_OF, full_refresh=True)
    assert full.full and not any(
        "timestamptz '" in (r.get("compiled_code") or "") for r in results
    )  # every test unscoped
    assert not _differences(
        incremental, {t: _rows(admin_dsn, t, k) for t, k in INCREMENTAL_TABLES.items()}
    )
    full_marts = mart_rows(admin_dsn, "marts")
    assert incremental_marts.keys() == full_marts.keys()
    differing = [t for t in full_marts if incremental_marts[t] != full_marts[t]]
    assert not differing, differing
