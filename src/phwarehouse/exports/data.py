"""What the exports read: only the published marts, and only when the publication covers the period.

Every query runs in one read-only repeatable-read transaction, so a publication swapped in while
an export runs cannot mix two builds into one document.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row

from phwarehouse.quality.publication import Publication, current_publication


class NotPublished(RuntimeError):
    """The quality gate has not published data that covers the requested period."""


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def parse_month(text: str) -> tuple[int, int]:
    """'2026-11' → (2026, 11); raises ValueError with a readable message otherwise."""
    try:
        year_s, month_s = text.split("-")
        year, month = int(year_s), int(month_s)
    except ValueError:
        raise ValueError(f"month {text!r}: expected YYYY-MM, e.g. 2026-11") from None
    if not 1 <= month <= 12 or len(year_s) != 4:
        raise ValueError(f"month {text!r}: expected YYYY-MM, e.g. 2026-11")
    return year, month


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"date {text!r}: expected YYYY-MM-DD") from None


def published_cutoff(dsn: str) -> Publication | None:
    with snapshot(dsn) as conn:
        return current_publication(conn)


def latest_complete_month(cutoff: date) -> tuple[int, int]:
    """The last month whose end the data cut-off has reached."""
    if cutoff == month_end(cutoff.year, cutoff.month):
        return cutoff.year, cutoff.month
    if cutoff.month == 1:
        return cutoff.year - 1, 12
    return cutoff.year, cutoff.month - 1


def require_publication(pub: Publication | None, covers: date, what: str) -> Publication:
    """The publication, when its data cut-off reaches `covers`; otherwise NotPublished."""
    if pub is None:
        raise NotPublished(
            f"{what}: no published marts (ops.publications has no current publication); "
            "the quality gate must publish a build first — candidate data is never exported"
        )
    if pub.data_cutoff_date < covers:
        raise NotPublished(
            f"{what}: the current publication {pub.publication_id} has data up to "
            f"{pub.data_cutoff_date:%Y-%m-%d}, before {covers:%Y-%m-%d}; wait for a publication "
            "that covers the period"
        )
    return pub


@contextmanager
def snapshot(dsn: str) -> Iterator[psycopg.Connection]:
    """A read-only, repeatable-read transaction: one consistent view of ops and marts."""
    with psycopg.connect(dsn) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            yield conn


Row = dict[str, Any]


def _rows(conn: psycopg.Connection, query: str, params: Any = None) -> list[Row]:
    return conn.cursor(row_factory=dict_row).execute(query, params).fetchall()


@dataclass
class BulletinData:
    year: int
    month: int
    publication: Publication
    indicators: list[Row]  # dim_indicator + domain name, display order
    values: list[Row]  # dashboard_indicator_values of the month (every org unit)
    previous: list[Row]  # the same for the previous month of the same assessment year
    trend: list[Row]  # district rows of every month of the year up to this one
    annual: list[Row]  # year rows of annual-only indicators (every org unit)
    completeness: list[Row] = field(default_factory=list)  # fct_reporting_completeness, month
    exclusions: list[Row] = field(default_factory=list)  # per facility: month / year to date
    quarantined: list[Row] = field(default_factory=list)  # per entity: month / year to date

    @property
    def period_key(self) -> str:
        return f"{self.year}-{self.month:02d}"

    @property
    def period_end(self) -> date:
        return month_end(self.year, self.month)

    def summary_rows(self) -> list[Row]:
        """District row of every indicator: the month (YTD), or the year for annual-only ones."""
        rows = {r["indicator_code"]: r for r in self.values + self.annual if _is_district(r)}
        return [rows[i["indicator_code"]] for i in self.indicators if i["indicator_code"] in rows]


def _is_district(row: Row) -> bool:
    return row["org_level"] == "district"


VALUE_COLUMNS = """
    indicator_code, indicator_name_zh, indicator_order, unit, direction, domain, domain_name_zh,
    org_unit_code, org_unit_name, org_level, org_level_zh, township_code, township_name,
    facility_code, facility_name, period_key, period_type, period_label_zh, period_end,
    assessment_year, numerator, denominator, value, target_value, target_comparator,
    expected_to_date, on_track, status, status_zh, is_provisional
"""

ORDER = """
    order by indicator_order,
        case org_level when 'district' then 0 when 'township' then 1 else 2 end,
        township_code nulls first, org_unit_code
"""


def load_indicators(conn: psycopg.Connection) -> list[Row]:
    return _rows(
        conn,
        """
        select i.indicator_code, i.display_order, i.name_zh, i.unit, i.direction, i.domain,
            i.multiplier, i.is_cumulative_coverage, i.is_annual_only,
            coalesce(d.name_zh, i.domain) as domain_name_zh
        from marts.dim_indicator as i
        left join (
            select distinct domain, domain_name_zh as name_zh
            from marts.dashboard_indicator_values
        ) as d on d.domain = i.domain
        order by i.display_order
        """,
    )


def load_values(conn: psycopg.Connection, period_keys: list[str], district_only=False) -> list[Row]:
    where = " and org_level = 'district'" if district_only else ""
    return _rows(
        conn,
        f"select {VALUE_COLUMNS} from marts.dashboard_indicator_values"
        f" where period_key = any(%s){where} {ORDER}",
        (period_keys,),
    )


def load_bulletin(dsn: str, year: int, month: int) -> BulletinData:
    what = f"bulletin {year}-{month:02d}"
    with snapshot(dsn) as conn:
        pub = require_publication(current_publication(conn), month_end(year, month), what)
        key = f"{year}-{month:02d}"
        values = load_values(conn, [key])
        if not values:
            raise NotPublished(f"{what}: the published marts have no values for {key}")
        assessment_year = values[0]["assessment_year"]
        indicators = load_indicators(conn)
        previous = []
        if month > 1:
            previous = [
                r
                for r in load_values(conn, [f"{year}-{month - 1:02d}"])
                if r["assessment_year"] == assessment_year
            ]
        trend = load_values(conn, [f"{year}-{m:02d}" for m in range(1, month + 1)], True)
        trend = [r for r in trend if r["assessment_year"] == assessment_year]
        monthly = {r["indicator_code"] for r in values}
        annual_codes = [
            i["indicator_code"] for i in indicators if i["indicator_code"] not in monthly
        ]
        annual = [r for r in load_values(conn, [str(year)]) if r["indicator_code"] in annual_codes]
        data = BulletinData(year, month, pub, indicators, values, previous, trend, annual)
        _load_quality(conn, data)
    return data


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (relation,)).fetchone()[0]


def _load_quality(conn: psycopg.Connection, data: BulletinData) -> None:
    first = date(data.year, data.month, 1)
    year_start = date(data.year, 1, 1)
    if _exists(conn, "marts.fct_reporting_completeness"):
        data.completeness = _rows(
            conn,
            """
            select facility_code, facility_name, township_code, report_month, due_date, is_due,
                is_received, submitted_on, is_on_time, days_late, reports_received
            from marts.fct_reporting_completeness
            where report_month = %s
            order by township_code, facility_code
            """,
            (first,),
        )
    if _exists(conn, "marts.fct_exclusions_by_reason"):
        data.exclusions = _rows(
            conn,
            """
            select coalesce(facility_code, '') as facility_code,
                sum(records) filter (where event_month = %(m)s) as records_month,
                coalesce(sum(records), 0) as records_ytd
            from marts.fct_exclusions_by_reason
            where event_month between %(y)s and %(m)s
            group by 1 order by 1
            """,
            {"m": first, "y": year_start},
        )
    if _exists(conn, "marts.fct_quarantined_rows"):
        data.quarantined = _rows(
            conn,
            """
            select entity,
                sum(quarantined_rows) filter (where received_on >= %(m)s) as rows_month,
                coalesce(sum(quarantined_rows), 0) as rows_ytd
            from marts.fct_quarantined_rows
            where received_on between %(y)s and %(e)s
            group by entity order by entity
            """,
            {"m": first, "y": year_start, "e": data.period_end},
        )


@dataclass
class AppraisalData:
    year: int
    as_of: date
    publication: Publication
    indicators: list[Row]
    values: list[Row]  # the as-of month's rows (YTD) of every org unit
    annual: list[Row]  # year rows of annual-only indicators


def load_appraisal(dsn: str, year: int, as_of: date) -> AppraisalData:
    what = f"appraisal {year} (as of {as_of:%Y-%m-%d})"
    if as_of != month_end(as_of.year, as_of.month):
        raise ValueError(f"{what}: the as-of date must be the last day of a month")
    with snapshot(dsn) as conn:
        pub = require_publication(current_publication(conn), as_of, what)
        key = f"{as_of.year}-{as_of.month:02d}"
        values = [r for r in load_values(conn, [key]) if r["assessment_year"] == year]
        if not values:
            raise NotPublished(f"{what}: the published marts have no values of {year} for {key}")
        indicators = load_indicators(conn)
        monthly = {r["indicator_code"] for r in values}
        annual = [
            r
            for r in load_values(conn, [str(year)])
            if r["indicator_code"] not in monthly and r["assessment_year"] == year
        ]
    return AppraisalData(year, as_of, pub, indicators, values, annual)


def as_number(value: Any) -> float | int | None:
    """Decimal → int when integral, else float (what a spreadsheet cell holds)."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
