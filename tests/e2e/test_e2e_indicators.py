"""End to end: simulate a small dirty district, ingest it over the API, `dbt build`, and compare
the district's annual numerators and denominators of every indicator with the independent
pandas computation over the simulator's files (tests/e2e/reference_indicators.py).
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from reference_indicators import (
    compute_district_year,
    compute_ncd_premature_bands,
    ncd_premature_value,
)
from tests.conftest import run_dbt, wipe_raw

from phwarehouse.ingestion import file_drops
from phwarehouse.ingestion.client import PlatformClient
from phwarehouse.ingestion.contracts import ENTITIES
from phwarehouse.ingestion.platform_ingest import ingest_entity
from phwarehouse.platform.dirty import DirtyConfig
from phwarehouse.platform.generate import GenerateConfig, generate
from phwarehouse.platform.server import make_server

pytestmark = pytest.mark.warehouse

AS_OF = "2026-11-22"
YEAR = 2025


@pytest.fixture(scope="module")
def district(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("e2e_district")
    generate(
        GenerateConfig(
            seed=5,
            residents=3000,
            start_year=2024,
            as_of=AS_OF,
            out=out,
            dirty=DirtyConfig(),
            workers=1,
        )
    )
    return out


@pytest.fixture(scope="module")
def warehouse(
    district: Path, warehouse_settings, admin_dsn: str, loader_dsn: str, tmp_path_factory
) -> str:
    """Raw tables loaded from the API and file drops, then `dbt build` of the whole project."""
    wipe_raw(admin_dsn)
    server = make_server(district, "e2e", port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with PlatformClient(url, "e2e", page_size=5000) as client:
            for entity in ENTITIES:
                counts = ingest_entity(
                    loader_dsn, client, entity, f"e2e:{entity}", datetime(2026, 11, 23, tzinfo=UTC)
                ).counts
                assert counts.reconciles
    finally:
        server.shutdown()
        server.server_close()
    drops = tmp_path_factory.mktemp("drops")
    (drops / "population").mkdir()
    for csv in (district / "population").glob("*.csv"):
        (drops / "population" / csv.name).write_bytes(csv.read_bytes())
    file_drops.ingest_drop_folder(loader_dsn, drops, "e2e")

    target = tmp_path_factory.mktemp("dbt_target")
    result = run_dbt(
        "build",
        "--full-refresh",  # incremental models may hold another test's data (raw is wiped)
        "--vars",
        f"{{data_cutoff_date: '{AS_OF}'}}",
        target=target,
        env=warehouse_settings.warehouse_env(),
    )
    assert result.returncode == 0, result.stdout[-6000:]
    return admin_dsn


def _as_decimal(value) -> Decimal:
    return Decimal(str(value))


def test_district_annual_numerators_and_denominators_match_the_reference(
    district: Path, warehouse: str
) -> None:
    expected = compute_district_year(district, YEAR, date.fromisoformat(AS_OF))
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute(
            "select indicator_code, numerator, denominator from marts.fct_indicator_values"
            " where org_level = 'district' and period_key = %s",
            (str(YEAR),),
        ).fetchall()
    actual = {code: (num, den) for code, num, den in rows}
    mismatches = []
    for code, (num, den) in sorted(expected.items()):
        got = actual.get(code)
        if got is None:
            mismatches.append(f"{code}: missing in the mart")
            continue
        if (_as_decimal(got[0]), _as_decimal(got[1])) != (_as_decimal(num), _as_decimal(den)):
            mismatches.append(f"{code}: warehouse {got[0]}/{got[1]} vs reference {num}/{den}")
    assert not mismatches, "\n".join(mismatches)


def test_data_quality_dashboard_names_every_entity_in_chinese(warehouse: str) -> None:
    """The 数据质量 dashboard's table lists the exclusions and quarantined rows of every entity,
    EHRs (merged duplicate copies) among them, each under its Chinese name (seed entity_names),
    never its code."""
    with psycopg.connect(warehouse) as conn:
        names = dict(
            conn.execute(
                "select distinct entity, entity_zh from marts.dashboard_data_quality_issues"
            ).fetchall()
        )
    assert names.get("residents") == "居民健康档案"
    assert len(names) > 5
    assert [e for e, zh in names.items() if zh == e or not zh] == []


def test_premature_ncd_mortality_bands_and_value_match_the_reference(
    district: Path, warehouse: str
) -> None:
    bands = compute_ncd_premature_bands(district, YEAR, date.fromisoformat(AS_OF))
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute(
            "select band_start_age, deaths, population from marts.fct_ncd_premature_bands"
            " where org_level = 'district' and period_key = %s",
            (str(YEAR),),
        ).fetchall()
        value = conn.execute(
            "select value from marts.fct_indicator_values where org_level = 'district'"
            " and period_key = %s and indicator_code = 'OUT_NCD_PREMATURE'",
            (str(YEAR),),
        ).fetchone()[0]
    assert {age: (d, p) for age, d, p in rows} == bands
    assert round(value, 4) == round(ncd_premature_value(bands) * 100, 4)


# --- the exports of the built district (tests/e2e/export_checks.py) --------------------------


@pytest.fixture(scope="module")
def published(warehouse: str, warehouse_settings, transformer_dsn: str):
    """A publication row as the quality gate writes it: data up to the build's cut-off (the
    table as provisioning creates it: owned by the loader, written by the transformer)."""
    from phwarehouse.quality.publication import ensure_table

    with psycopg.connect(warehouse, autocommit=True) as conn:
        ensure_table(conn)
        conn.execute("alter table ops.publications owner to phw_loader")
        conn.execute("grant select, insert, update on ops.publications to phw_transformer")
    with psycopg.connect(transformer_dsn, autocommit=True) as conn:
        conn.execute("update ops.publications set status = 'rolled_back'")
        conn.execute(
            "insert into ops.publications (publication_id, data_cutoff_date, candidate_schema)"
            " values ('pub-e2e-1', %s, 'marts_candidate')",
            (AS_OF,),
        )
    return "pub-e2e-1"


def test_bulletin_every_number_equals_the_marts_and_the_pdf_names_every_facility(
    published: str, warehouse: str, warehouse_settings, monkeypatch, capsys
) -> None:
    import export_checks

    from phwarehouse import cli
    from phwarehouse.exports import outbox

    monkeypatch.setattr(cli, "load_settings", lambda home=None: warehouse_settings)
    assert cli.main(["export", "bulletin", "--month", "2026-10"]) == 0
    out = capsys.readouterr().out
    folder = warehouse_settings.export_dir / "bulletin" / "2026-10"
    xlsx, pdf = folder / "工作简报_2026-10.xlsx", folder / "工作简报_2026-10.pdf"
    assert str(xlsx) in out and str(pdf) in out
    manifest = outbox.read_manifest(folder)
    assert (manifest["publication_id"], manifest["period"]) == (published, "2026-10")
    assert [f["file"] for f in manifest["files"]] == [xlsx.name, pdf.name]
    assert outbox.verify(folder) == []
    assert export_checks.check_bulletin_xlsx(xlsx, warehouse, "2026-10", "2026") > 1000
    export_checks.check_bulletin_pdf(pdf, warehouse, "2026-10", "2026", published)


def test_appraisal_matches_the_marts_and_its_own_scoring(
    published: str, warehouse: str, warehouse_settings, monkeypatch
) -> None:
    import export_checks

    from phwarehouse import cli

    monkeypatch.setattr(cli, "load_settings", lambda home=None: warehouse_settings)
    assert cli.main(["export", "appraisal", "--year", "2026"]) == 0
    folder = warehouse_settings.export_dir / "appraisal" / "2026"
    export_checks.check_appraisal_xlsx(folder / "年度考核_2026.xlsx", warehouse, "2026-10")
    text = export_checks.pdf_text(folder / "年度考核_2026.pdf")
    assert published in text and "考核得分与排名" in text


def test_a_period_the_publication_does_not_cover_is_refused(
    published: str, warehouse_settings, transformer_dsn: str, monkeypatch, capsys
) -> None:
    from phwarehouse import cli

    monkeypatch.setattr(cli, "load_settings", lambda home=None: warehouse_settings)
    # the publication's data end 2026-11-22: November is not complete
    assert cli.main(["export", "bulletin", "--month", "2026-11"]) == 1
    assert "before 2026-11-30" in capsys.readouterr().err
    assert not (warehouse_settings.export_dir / "bulletin" / "2026-11").exists()
    from phwarehouse.exports import jobs
    from phwarehouse.stack import main_job

    # `make run` exports the latest month the publication covers entirely
    assert jobs.latest_bulletin_month(transformer_dsn) == (2026, 10)
    with psycopg.connect(transformer_dsn, autocommit=True) as conn:
        conn.execute("update ops.publications set status = 'rolled_back'")
    try:
        assert cli.main(["export", "bulletin", "--month", "2026-10"]) == 1
        assert "no published marts" in capsys.readouterr().err
        assert cli.main(["export", "appraisal", "--year", "2026"]) == 1
        files, note = main_job.export_latest_bulletin(warehouse_settings, print)
        assert files == [] and note.startswith("not produced: ") and "no published" in note
    finally:
        with psycopg.connect(transformer_dsn, autocommit=True) as conn:
            conn.execute("update ops.publications set status = 'published'")
