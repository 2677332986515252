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
