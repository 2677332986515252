"""The annual appraisal's scoring rule (seed `appraisal_scoring`, documented in _seeds.yml).

Per facility and indicator:
- `not_scored`: shown with its value, 0 points, outside the maximum;
- `target_proportional`: the comparison target is 序时进度 (`expected_to_date`, cumulative-coverage
  indicators before the year's end) or else the year's target. Met → the full weight; below it
  weight × value / target (≥ targets) or weight × target / value (≤ targets; a value of 0 meets);
- a scored indicator without an appraisal target (no target, a reference level, `decrease`) or
  without a value (denominator 0 at the facility) is 不适用: its weight leaves the maximum.
Total = 100 × Σ points / Σ applicable weights, rounded to 2 decimals; rank by total (descending),
equal totals share a rank (1, 2, 2, 4).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from phwarehouse.settings import PROJECT_ROOT

SEED = PROJECT_ROOT / "dbt_project" / "seeds" / "appraisal_scoring.csv"
RULES = ("target_proportional", "not_scored")


@dataclass(frozen=True)
class Rule:
    indicator_code: str
    weight: Decimal
    rule: str
    note: str


def load_rules(path: Path = SEED) -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["rule"] not in RULES:
                raise ValueError(f"{path.name}: unknown rule {row['rule']!r}")
            rules[row["indicator_code"]] = Rule(
                row["indicator_code"], Decimal(row["weight"]), row["rule"], row["note"] or ""
            )
    return rules


@dataclass
class IndicatorScore:
    indicator_code: str
    value: Decimal | None
    comparison_target: Decimal | None
    comparator: str | None
    weight: Decimal
    points: Decimal | None  # None: not scored or 不适用
    status: str  # 达标 / 未达标 / 不适用 / 不计分


@dataclass
class FacilityScore:
    org_unit_code: str
    org_unit_name: str
    township_name: str | None
    indicators: dict[str, IndicatorScore] = field(default_factory=dict)
    points: Decimal = Decimal(0)
    max_points: Decimal = Decimal(0)
    total: Decimal | None = None  # 0–100
    rank: int | None = None


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def score_indicator(rule: Rule | None, row: dict[str, Any]) -> IndicatorScore:
    code = row["indicator_code"]
    value = _dec(row.get("value"))
    comparator = row.get("target_comparator")
    target = _dec(row.get("expected_to_date"))
    if target is None:
        target = _dec(row.get("target_value"))
    weight = rule.weight if rule else Decimal(0)
    if rule is None or rule.rule == "not_scored" or weight == 0:
        return IndicatorScore(code, value, target, comparator, Decimal(0), None, "不计分")
    if value is None or target is None or comparator not in (">=", "<="):
        return IndicatorScore(code, value, target, comparator, weight, None, "不适用")
    if comparator == ">=":
        met = value >= target
        share = Decimal(1) if met or target == 0 else value / target
    else:
        met = value <= target
        share = Decimal(1) if met else target / value
    points = (weight * min(share, Decimal(1))).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return IndicatorScore(
        code, value, target, comparator, weight, points, "达标" if met else "未达标"
    )


def score_facilities(rows: list[dict[str, Any]], rules: dict[str, Rule]) -> list[FacilityScore]:
    """Scores of every facility in `rows` (facility-level value rows), ranked."""
    facilities: dict[str, FacilityScore] = {}
    for row in rows:
        if row["org_level"] != "facility":
            continue
        fac = facilities.setdefault(
            row["org_unit_code"],
            FacilityScore(row["org_unit_code"], row["org_unit_name"], row.get("township_name")),
        )
        fac.indicators[row["indicator_code"]] = score_indicator(
            rules.get(row["indicator_code"]), row
        )
    for fac in facilities.values():
        scored = [s for s in fac.indicators.values() if s.points is not None]
        fac.points = sum((s.points for s in scored), Decimal(0))
        fac.max_points = sum((s.weight for s in scored), Decimal(0))
        if fac.max_points > 0:
            fac.total = (100 * fac.points / fac.max_points).quantize(Decimal("0.01"), ROUND_HALF_UP)
    ranked = sorted(
        facilities.values(),
        key=lambda f: (f.total is None, -(f.total or 0), f.org_unit_code),
    )
    for i, fac in enumerate(ranked):
        if fac.total is None:
            continue
        if i > 0 and ranked[i - 1].total == fac.total:
            fac.rank = ranked[i - 1].rank
        else:
            fac.rank = i + 1
    return ranked
