"""The quality gate's checks, declared once: rendered into the GX project in `expectations/`.

Every check is a Great Expectations `UnexpectedRowsExpectation` (SQL): the rows it returns are
the violations. Each names its kind (conformance, completeness, plausibility, as OHDSI's Data
Quality Dashboard groups them), its severity (`error` blocks publication, `warning` is
reported) and, where a rate or count is compared, its threshold. `python -m
phwarehouse.quality render` writes the suites; a test fails when the committed files differ.

Two suites:

- `raw_load`: the rows loaded since the last publication (the gate's *window*; batch =
  `quality.gate_window`, one row: raw_since, raw_until, data_cutoff_date, the window's days and
  its history). A record is judged at its latest version, so a correction sent by the platform
  repairs a failed day. A window without any new row is not checked for volume (a re-run).
- `candidate_marts`: the marts dbt built into `marts_candidate` (batch = its
  `fct_indicator_values`), before they are published into `marts`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from phwarehouse import contract as platform_contract
from phwarehouse.pipeline import data_cutoff
from phwarehouse.platform import ids

CANDIDATE_SCHEMA = "marts_candidate"
PUBLISHED_SCHEMA = "marts"
PREVIOUS_SCHEMA = "marts_previous"

KINDS = ("conformance", "completeness", "plausibility")
SEVERITIES = {"error": "critical", "warning": "warning"}  # ours -> GX FailureSeverity

# Thresholds (one place; the README's table lists them)
IMPLAUSIBLE_BP_MAX_SHARE = 0.15  # per facility, of its follow-ups / exams with a BP in the window
IMPLAUSIBLE_BP_MIN_ROWS = 5  # facilities with fewer BP readings in the window are not judged
INVALID_ID_MAX_SHARE = 0.02  # of the window's residents with an ID number
CODE_SET_MAX_SHARE = 0.01  # of the window's non-null codes outside their code set
UNKNOWN_FACILITY_MAX_SHARE = 0.02  # of the window's facility codes, per entity
VOLUME_MIN_EXPECTED = 5  # an entity is expected daily when its history gives >= 5 rows a window
VOLUME_BAND = (0.25, 4.0)  # observed / expected outside this band: warning
HISTORY_DAYS = 28
# a share check fails only with at least this many violating rows: on a small day's load one
# slip of a small entity would otherwise be a large share
SHARE_MIN_VIOLATIONS = 3
VALUE_TOLERANCE = 0.0001


@dataclass(frozen=True)
class Check:
    suite: str
    name: str
    kind: str
    severity: str
    description: str
    sql: str
    threshold: str | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind
        assert self.severity in SEVERITIES, self.severity

    @property
    def gx_query(self) -> str:
        """The SQL for GX: literal braces doubled, `{batch}` kept as GX's placeholder."""
        doubled = self.sql.replace("{", "{{").replace("}", "}}").replace("{{batch}}", "{batch}")
        # GX substitutes `{batch}` with a bare subquery in a query that joins (and aliases it
        # `subselect` otherwise): every check joins and aliases its batch itself
        assert re.search(r"\bjoin\b", doubled, re.IGNORECASE), self.name
        assert not re.search(r"\{batch\}(?! as \w)", doubled), self.name
        return doubled


DBT_PROJECT = Path(__file__).resolve().parents[3] / "dbt_project" / "dbt_project.yml"


@cache
def _dbt_vars() -> dict:
    return yaml.safe_load(DBT_PROJECT.read_text(encoding="utf-8"))["vars"]


def _entities_with(*fields: str) -> list[str]:
    return [
        name
        for name, entity in platform_contract.ENTITIES.items()
        if set(fields) <= {f.name for f in entity.payload_fields()}
    ]


def gb11643_valid_sql(expr: str) -> str:
    """SQL that is true when `expr` is an 18-character GB 11643 ID number whose check
    character is right (ISO 7064 MOD 11-2; the dbt macro `gb11643_check_digit_valid` is the
    same rule), false otherwise, never null and never raising."""
    v = f"upper(btrim({expr}))"
    weighted = " + ".join(
        f"(ascii(substr({v}, {i}, 1)) - 48) * {w}" for i, w in enumerate(ids.WEIGHTS.tolist(), 1)
    )
    return (
        f"coalesce({v} ~ '^[0-9]{{17}}[0-9X]$'"
        f" and substr('{ids.CHECK_CHARS}', mod({weighted}, 11) + 1, 1) = substr({v}, 18, 1), false)"
    )


def _window(entity: str, alias: str = "r") -> str:
    """Latest, live rows of `raw.<entity>` loaded in the gate's window (w = the batch row)."""
    return (
        f"raw.{entity} as {alias} where {alias}.loaded_at > w.raw_since"
        f" and {alias}.loaded_at <= w.raw_until and {alias}.is_latest and not {alias}.is_deleted"
    )


def _num(expr: str) -> str:
    """A JSON text field as numeric when it is a number, else null (never an error)."""
    return f"(case when ({expr}) ~ '^-?[0-9]+(\\.[0-9]+)?$' then ({expr})::numeric end)"


def raw_checks() -> list[Check]:
    v = _dbt_vars()
    checks: list[Check] = []
    suite = "raw_load"

    # --- conformance: contract keys ------------------------------------------------------
    parts = []
    for name, entity in platform_contract.ENTITIES.items():
        keys = [k for k in (entity.keys.person_ref, entity.keys.event_date) if k]
        missing = " or ".join(f"coalesce(r.payload ->> '{k}', '') = ''" for k in keys)
        if not missing:
            continue
        parts.append(
            f"select '{name}' as entity, r.record_id from {{batch}} as w cross join {_window(name)}"
            f" and ({missing})"
        )
    checks.append(
        Check(
            suite,
            "raw_contract_keys_present",
            "conformance",
            "error",
            "Every record loaded in the window carries its contract keys (person reference and "
            "event date; ingestion quarantines rows without them, so any row here is a loader "
            "fault).",
            "\nunion all\n".join(parts),
            threshold="0 rows",
        )
    )

    # --- conformance: code sets ----------------------------------------------------------
    code_sets = [
        ("residents", "sex_code", "array['0', '1', '2', '9']", "GB/T 2261.1 sex code"),
    ]
    code_sets += [
        (e, "followup_mode", "array['face_to_face', 'telephone']", "follow-up mode")
        for e in _entities_with("followup_mode")
    ]
    parts = []
    for entity, column, allowed, _ in code_sets:
        parts.append(
            f"select '{entity}' as entity, '{column}' as field,"
            f" count(*) filter (where r.payload ->> '{column}' <> all({allowed})) as invalid,"
            f" count(r.payload ->> '{column}') as checked"
            f" from {{batch}} as w cross join {_window(entity)} group by 1, 2"
        )
    parts.append(
        "select 'deaths' as entity, 'underlying_cause_icd10' as field,"
        " count(*) filter (where upper(r.payload ->> 'underlying_cause_icd10')"
        " !~ '^[A-Z][0-9][0-9](\\.[0-9A-Z]+)?$') as invalid,"
        " count(r.payload ->> 'underlying_cause_icd10') as checked"
        f" from {{batch}} as w cross join {_window('deaths')} group by 1, 2"
    )
    checks.append(
        Check(
            suite,
            "raw_code_sets",
            "conformance",
            "error",
            "Codes in their code set: sex per GB/T 2261.1 (0/1/2/9), follow-up mode "
            "(face_to_face / telephone), underlying cause of death in ICD-10 form (A00, A00.0). "
            f"Fails for an entity × field with more than {CODE_SET_MAX_SHARE:.0%} of its "
            "window's non-null codes outside the set.",
            "select * from (\n" + "\nunion all\n".join(parts) + "\n) as shares"
            f" where invalid >= {SHARE_MIN_VIOLATIONS}"
            f" and invalid > {CODE_SET_MAX_SHARE} * checked",
            threshold=f"share <= {CODE_SET_MAX_SHARE} (or < {SHARE_MIN_VIOLATIONS} rows)",
        )
    )

    parts = [
        f"select '{e}' as entity, count(*) filter (where r.payload ->> 'facility_code'"
        " not in (select o.record_id from raw.org_units as o where o.is_latest)) as unknown,"
        " count(r.payload ->> 'facility_code') as checked"
        f" from {{batch}} as w cross join {_window(e)}"
        for e in _entities_with("facility_code")
    ]
    checks.append(
        Check(
            suite,
            "raw_facility_codes_known",
            "conformance",
            "error",
            "Facility codes of service records are org units the platform sent. Fails for an "
            f"entity with more than {UNKNOWN_FACILITY_MAX_SHARE:.0%} of its window's facility "
            "codes unknown.",
            "select * from (\n" + "\nunion all\n".join(parts) + "\n) as shares"
            f" where unknown >= {SHARE_MIN_VIOLATIONS}"
            f" and unknown > {UNKNOWN_FACILITY_MAX_SHARE} * checked",
            threshold=f"share <= {UNKNOWN_FACILITY_MAX_SHARE} (or < {SHARE_MIN_VIOLATIONS} rows)",
        )
    )

    # --- plausibility: implausible BP share per facility (spec §5) -----------------------
    sbp, dbp = _num("r.payload ->> 'sbp'"), _num("r.payload ->> 'dbp'")
    plausible = (
        f"{sbp} between {v['plausible_sbp_min']} and {v['plausible_sbp_max']}"
        f" and {dbp} between {v['plausible_dbp_min']} and {v['plausible_dbp_max']}"
        f" and {sbp} > {dbp}"
    )
    parts = [
        f"select r.payload ->> 'facility_code' as facility_code, ({plausible}) as plausible"
        f" from {{batch}} as w cross join {_window(e)}"
        " and (r.payload ->> 'sbp' is not null or r.payload ->> 'dbp' is not null)"
        for e in _entities_with("sbp", "dbp", "facility_code")
    ]
    checks.append(
        Check(
            suite,
            "raw_implausible_bp_share",
            "plausibility",
            "error",
            "Share of blood-pressure readings outside spec §5 (SBP "
            f"{v['plausible_sbp_min']}–{v['plausible_sbp_max']}, DBP "
            f"{v['plausible_dbp_min']}–{v['plausible_dbp_max']} mmHg, SBP > DBP) per facility "
            "in the window's follow-ups, health exams and maternal visits. Fails for a facility "
            f"with at least {IMPLAUSIBLE_BP_MIN_ROWS} readings of which more than "
            f"{IMPLAUSIBLE_BP_MAX_SHARE:.0%} (and at least {SHARE_MIN_VIOLATIONS}) are "
            "implausible (single slips are treated as missing by the marts; a facility-wide "
            "share means a broken device or export).",
            "select facility_code, count(*) as readings,"
            " count(*) filter (where not coalesce(plausible, false)) as implausible,"
            " round(count(*) filter (where not coalesce(plausible, false))::numeric"
            " / count(*), 3) as share from (\n"
            + "\nunion all\n".join(parts)
            + "\n) as readings group by facility_code"
            f" having count(*) >= {IMPLAUSIBLE_BP_MIN_ROWS} and"
            " count(*) filter (where not coalesce(plausible, false))"
            f" > greatest({IMPLAUSIBLE_BP_MAX_SHARE} * count(*), {SHARE_MIN_VIOLATIONS} - 1)",
            threshold=f"share <= {IMPLAUSIBLE_BP_MAX_SHARE} (facilities with >= "
            f"{IMPLAUSIBLE_BP_MIN_ROWS} readings, >= {SHARE_MIN_VIOLATIONS} implausible)",
        )
    )

    invalid = "not " + gb11643_valid_sql("r.payload ->> 'id_number'")
    checks.append(
        Check(
            suite,
            "raw_invalid_id_share",
            "plausibility",
            "error",
            "Share of the window's residents whose ID number is not a valid GB 11643 number "
            "(17 digits and a check character that matches ISO 7064 MOD 11-2). Fails above "
            f"{INVALID_ID_MAX_SHARE:.0%}.",
            f"select count(*) filter (where {invalid}) as invalid, count(*) as residents"
            f" from {{batch}} as w cross join {_window('residents')}"
            " and r.payload ->> 'id_number' is not null"
            f" having count(*) filter (where {invalid}) > greatest({INVALID_ID_MAX_SHARE}"
            f" * count(*), {SHARE_MIN_VIOLATIONS} - 1)",
            threshold=f"share <= {INVALID_ID_MAX_SHARE} (or < {SHARE_MIN_VIOLATIONS} rows)",
        )
    )

    parts = []
    for name, entity in platform_contract.ENTITIES.items():
        event = entity.keys.event_date
        if not event or entity.field(event).type == "month":
            continue
        parts.append(
            f"select '{name}' as entity, r.record_id, r.payload ->> '{event}' as event_date"
            f" from {{batch}} as w cross join {_window(name)}"
            f" and r.payload ->> '{event}' ~ '^[0-9]{{4}}-[0-9][0-9]-[0-9][0-9]$'"
            f" and r.payload ->> '{event}'"
            f" > (r.source_updated_at at time zone '{data_cutoff.TZ.key}')::date::text"
        )
    checks.append(
        Check(
            suite,
            "raw_dates_after_cutoff",
            "plausibility",
            "warning",
            "Service or event dates in the future when entered: after the day (Asia/Shanghai) "
            "the platform last updated the record (e.g. 2052 for 2025). The marts exclude every "
            "date after the data cut-off (spec §6, listed in the exclusions); a record entered "
            "on the morning of the run about that day is only early, so this check reports the "
            "impossible dates, for the platform to correct.",
            "\nunion all\n".join(parts),
            threshold="0 rows",
        )
    )

    # --- completeness: volume per entity against its recent history ----------------------
    parts = []
    for name in platform_contract.ENTITIES:
        parts.append(
            f"select '{name}' as entity,"
            " count(*) filter (where r.loaded_at > w.raw_since and r.loaded_at <= w.raw_until)"
            " as observed,"
            " count(*) filter (where r.loaded_at <= w.raw_since"
            " and r.source_updated_at >= w.history_start and r.source_updated_at < w.history_end)"
            f"::numeric / {HISTORY_DAYS} * w.window_days as expected"
            f" from {{batch}} as w cross join raw.{name} as r group by w.window_days"
        )
    volume = "select * from (\n" + "\nunion all\n".join(parts) + "\n) as volumes"
    checks.append(
        Check(
            suite,
            "raw_entity_present",
            "completeness",
            "error",
            "A load that brought new rows brings every entity the platform sends daily: an "
            f"entity whose last {HISTORY_DAYS} days give at least {VOLUME_MIN_EXPECTED} rows "
            "for the window's days (the time its rows' updates span), and none in the window, "
            "fails (e.g. a day without hypertension follow-ups).",
            volume + f" where expected >= {VOLUME_MIN_EXPECTED} and observed = 0"
            " and (select w.window_rows from {batch} as w) > 0",
            threshold=f"rows > 0 when expected >= {VOLUME_MIN_EXPECTED}",
        )
    )
    low, high = VOLUME_BAND
    checks.append(
        Check(
            suite,
            "raw_volume_band",
            "completeness",
            "warning",
            "Rows loaded per entity in the window within "
            f"{low}–{high} × the expected number (its daily mean over the {HISTORY_DAYS} days "
            "before the window × the time the window's updates span, in days), for entities "
            "expected at least "
            f"{VOLUME_MIN_EXPECTED} times.",
            volume + f" where expected >= {VOLUME_MIN_EXPECTED}"
            f" and (observed < {low} * expected or observed > {high} * expected)"
            " and (select w.window_rows from {batch} as w) > 0",
            threshold=f"{low} <= observed / expected <= {high}",
        )
    )

    checks.append(
        Check(
            suite,
            "raw_population_complete",
            "completeness",
            "error",
            "The official population (statistics bureau) has, for every year it was loaded for "
            f"among the assessment years reported (the cut-off's year and the "
            f"{v['reporting_history_years']} before), every township the platform lists with "
            "both sexes and ages 0–100; and at least one of those years is loaded.",
            "with w as (select * from {batch} as b),"
            " years as (select distinct p.year from raw.stat_population as p cross join w"
            f" where p.year between extract(year from w.data_cutoff_date)::int"
            f" - {v['reporting_history_years']} and extract(year from w.data_cutoff_date)::int),"
            " townships as (select t.record_id as township_code from raw.org_units as t"
            " where t.is_latest and not t.is_deleted and t.payload ->> 'level' = 'township')"
            " select t.township_code, y.year, count(distinct (p.sex_code, p.age)) as cells"
            " from townships as t cross join years as y"
            " left join raw.stat_population as p"
            " on p.township_code = t.township_code and p.year = y.year"
            " group by 1, 2 having count(distinct (p.sex_code, p.age)) < 202"
            " union all"
            " select '(all)', null, 0 where not exists (select 1 from years)",
            threshold="202 cells (2 sexes × ages 0–100) per township × year loaded",
        )
    )
    return checks


def marts_checks() -> list[Check]:
    suite = "candidate_marts"
    c = CANDIDATE_SCHEMA
    checks = [
        Check(
            suite,
            "marts_numerator_le_denominator",
            "plausibility",
            "error",
            "Rates whose numerator is a subset of the denominator (catalogue flag "
            "numerator_within_denominator) never exceed it, at any org level and period.",
            f"select v.indicator_value_key, v.numerator, v.denominator from {{batch}} as v"
            f" join {c}.dim_indicator as i using (indicator_code)"
            " where i.numerator_within_denominator and v.numerator > v.denominator",
            threshold="0 rows",
        ),
        Check(
            suite,
            "marts_values_in_range",
            "plausibility",
            "error",
            "Numerators and denominators are never negative; a value exists only with a "
            "positive denominator and equals numerator / denominator × multiplier (life-table "
            "rates excepted); percentages "
            "of subset rates lie in 0–100.",
            f"select v.indicator_value_key, v.numerator, v.denominator, v.value from {{batch}} as v"
            f" join {c}.dim_indicator as i using (indicator_code)"
            " where v.numerator < 0 or v.denominator < 0"
            " or (v.value is not null and coalesce(v.denominator, 0) <= 0)"
            " or (v.value is not null and i.denominator_kind <> 'life_table'"
            " and abs(v.value - v.numerator / v.denominator"
            f" * v.multiplier) > {VALUE_TOLERANCE} * greatest(1, abs(v.value)))"
            " or (i.numerator_within_denominator and v.value not between 0 and v.multiplier)",
            threshold=f"0 rows (tolerance {VALUE_TOLERANCE})",
        ),
        Check(
            suite,
            "marts_indicator_org_period_complete",
            "completeness",
            "error",
            "Every indicator × org unit (district, townships, facilities of dim_org_unit) × "
            "period reported is present (annual-only indicators: years), and the periods "
            "include the month, quarter and year of the data cut-off.",
            "with periods as (select distinct period_key, period_type from {batch} as b),"
            f" orgs as (select org_unit_code from {c}.dim_org_unit"
            " where org_level in ('district', 'township', 'facility')),"
            " expected as ("
            " select i.indicator_code, o.org_unit_code, p.period_key"
            f" from {c}.dim_indicator as i cross join orgs as o cross join periods as p"
            " where not i.is_annual_only or p.period_type = 'year'"
            " union"
            " select i.indicator_code, o.org_unit_code, d.period_key"
            f" from {c}.dim_indicator as i cross join orgs as o"
            f" cross join {c}.dim_period as d cross join quality.gate_window as w"
            " where w.data_cutoff_date between d.period_start and d.period_end"
            " and (not i.is_annual_only or d.period_type = 'year'))"
            " select e.* from expected as e left join {batch} as v"
            " using (indicator_code, org_unit_code, period_key)"
            " where v.indicator_value_key is null",
            threshold="0 missing rows",
        ),
        Check(
            suite,
            "marts_district_equals_sum_of_townships_and_facilities",
            "conformance",
            "error",
            "For every indicator and period the district's numerator and denominator equal the "
            "sum over its townships, and each township's the sum over its facilities.",
            "with children as ("
            " select v.indicator_code, v.period_key, o.parent_org_unit_code as parent,"
            " sum(v.numerator) as numerator, sum(v.denominator) as denominator"
            f" from {{batch}} as v join {c}.dim_org_unit as o using (org_unit_code)"
            " where o.org_level in ('township', 'facility') group by 1, 2, 3)"
            " select p.indicator_value_key, p.numerator, c.numerator as children_numerator,"
            " p.denominator, c.denominator as children_denominator"
            " from {batch} as p join children as c"
            " on c.parent = p.org_unit_code and c.indicator_code = p.indicator_code"
            " and c.period_key = p.period_key"
            f" where abs(coalesce(p.numerator, 0) - coalesce(c.numerator, 0)) > {VALUE_TOLERANCE}"
            " or abs(coalesce(p.denominator, 0) - coalesce(c.denominator, 0))"
            f" > {VALUE_TOLERANCE}",
            threshold=f"|difference| <= {VALUE_TOLERANCE}",
        ),
        Check(
            suite,
            "marts_targets_joined",
            "conformance",
            "error",
            "Every indicator the targets seed gives a target for the year has it joined.",
            "select v.indicator_value_key from {batch} as v"
            " join reference.indicator_targets as t"
            " on t.indicator_code = v.indicator_code and t.year = v.assessment_year"
            " where t.target_value is not null and v.target_value is null",
            threshold="0 rows",
        ),
        Check(
            suite,
            "marts_ytd_cumulative_non_decreasing",
            "plausibility",
            "error",
            "Year-to-date numerators of cumulative-coverage indicators never fall from one "
            "month to the next within an assessment year, per org unit.",
            "select * from (select v.indicator_value_key, v.numerator,"
            " lag(v.numerator) over (partition by v.indicator_code, v.org_unit_code,"
            " v.assessment_year order by v.period_start) as previous_numerator"
            f" from {{batch}} as v join {c}.dim_indicator as i using (indicator_code)"
            " where i.is_cumulative_coverage and v.period_type = 'month') as s"
            " where s.numerator < s.previous_numerator",
            threshold="0 rows",
        ),
        Check(
            suite,
            "marts_no_personal_data",
            "conformance",
            "error",
            "No text column of any candidate mart holds an ID number (15 or 18 characters of "
            "GB 11643 form), a mobile phone number (1[3-9] and 9 digits) or a resident's name "
            "from the platform.",
            "select c.table_name, c.column_name, x.hits from information_schema.columns as c"
            " cross join lateral (select (xpath('/row/n/text()', query_to_xml(format("
            "'select count(*) as n from %I.%I as t where t.%I ~ %L"
            " or t.%I in (select r.payload ->> ''name'' from raw.residents as r"
            " where r.payload ->> ''name'' is not null)',"
            " c.table_schema, c.table_name, c.column_name,"
            " '(^|[^0-9])([0-9]{17}[0-9Xx]|[0-9]{15}|1[3-9][0-9]{9})([^0-9]|$)',"
            " c.column_name), false, true, '')))[1]::text::int as hits) as x"
            f" where c.table_schema = '{c}' and c.data_type in ('text', 'character varying')"
            " and x.hits > 0 and exists (select 1 from {batch} as b limit 1)",
            threshold="0 values",
        ),
    ]
    return checks


def all_checks() -> list[Check]:
    checks = raw_checks() + marts_checks()
    names = [c.name for c in checks]
    assert len(names) == len(set(names)), "check names must be unique"
    return checks
