"""Exports without a warehouse: the appraisal's scoring rule on a hand-worked fixture, the
publication rule, the outbox's atomic rebuild and manifest, e-mail delivery to a local SMTP
server. The end-to-end export of a built district is in tests/e2e/test_e2e_indicators.py."""

from __future__ import annotations

import email
import email.policy
import hashlib
import stat
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from tests.unit.test_failure_alerts import smtp_server  # noqa: F401  (fixture)

from phwarehouse.exports import data, delivery, jobs, outbox, scoring
from phwarehouse.quality.publication import Publication

PUB = Publication("pub-2026-12-01-a", date(2026, 11, 30), datetime(2026, 12, 1, 2, tzinfo=UTC))


# --- scoring ---------------------------------------------------------------------------------

RULES = {
    "EHR_FILING": scoring.Rule("EHR_FILING", Decimal(10), "target_proportional", ""),
    "HTN_STD_MGMT": scoring.Rule("HTN_STD_MGMT", Decimal(10), "target_proportional", ""),
    "ELD_HEALTH_MGMT": scoring.Rule("ELD_HEALTH_MGMT", Decimal(10), "target_proportional", ""),
    "MAT_EARLY_REG": scoring.Rule("MAT_EARLY_REG", Decimal(8), "target_proportional", ""),
    "OUT_IMR": scoring.Rule("OUT_IMR", Decimal(5), "target_proportional", ""),
    "EHR_USAGE": scoring.Rule("EHR_USAGE", Decimal(0), "not_scored", "no target"),
}


def _row(fac, code, value, target=None, comparator=">=", expected=None):
    return {
        "org_level": "facility",
        "org_unit_code": fac,
        "org_unit_name": f"机构{fac}",
        "township_name": "镇",
        "indicator_code": code,
        "value": None if value is None else Decimal(value),
        "target_value": None if target is None else Decimal(target),
        "target_comparator": comparator if target is not None else None,
        "expected_to_date": None if expected is None else Decimal(expected),
    }


def test_scoring_rule_on_a_hand_worked_fixture() -> None:
    rows = [
        # A: EHR 60 of target 75 → 10 × 60/75 = 8.00; HTN 66 ≥ 60 → 10; ELD 40 against 序时进度
        # 50 (not the year's 65) → 10 × 40/50 = 8.00; MAT no value → 不适用 (8 leaves the max);
        # IMR 5 ‰ against ≤ 4.1 → 5 × 4.1/5 = 4.10; EHR_USAGE not scored.
        # total = 100 × (8 + 10 + 8 + 4.10) / (10 + 10 + 10 + 5) = 100 × 30.10 / 35 = 86.00
        _row("A", "EHR_FILING", "60", "75"),
        _row("A", "HTN_STD_MGMT", "66", "60"),
        _row("A", "ELD_HEALTH_MGMT", "40", "65", expected="50"),
        _row("A", "MAT_EARLY_REG", None, "85"),
        _row("A", "OUT_IMR", "5", "4.1", "<="),
        _row("A", "EHR_USAGE", "30"),
        # B: EHR 80 ≥ 75 → 10; HTN 30 of 60 → 5.00; ELD 55 ≥ 50 → 10; MAT 85 ≥ 85 → 8;
        # IMR 0 ≤ 4.1 → 5. total = 100 × 38 / 43 = 88.372… → 88.37
        _row("B", "EHR_FILING", "80", "75"),
        _row("B", "HTN_STD_MGMT", "30", "60"),
        _row("B", "ELD_HEALTH_MGMT", "55", "65", expected="50"),
        _row("B", "MAT_EARLY_REG", "85", "85"),
        _row("B", "OUT_IMR", "0", "4.1", "<="),
        # C: only an indicator without a target (decrease) → nothing applicable, no total, no rank
        _row("C", "EHR_FILING", "70", None),
        # D: EHR 67.5 of 75 → 9.00; HTN 54 of 60 → 9.00; total = 100 × 18 / 20 = 90.00
        _row("D", "EHR_FILING", "67.5", "75"),
        _row("D", "HTN_STD_MGMT", "54", "60"),
        # a township row is not a facility: ignored
        {**_row("T", "EHR_FILING", "1", "75"), "org_level": "township"},
    ]
    scores = {s.org_unit_code: s for s in scoring.score_facilities(rows, RULES)}
    assert set(scores) == {"A", "B", "C", "D"}
    a = scores["A"]
    assert a.indicators["EHR_FILING"].points == Decimal("8.00")
    assert a.indicators["HTN_STD_MGMT"].points == Decimal("10.00")
    assert a.indicators["ELD_HEALTH_MGMT"].comparison_target == Decimal(50)
    assert a.indicators["ELD_HEALTH_MGMT"].points == Decimal("8.00")
    assert a.indicators["MAT_EARLY_REG"].status == "不适用"
    assert a.indicators["MAT_EARLY_REG"].points is None
    assert a.indicators["OUT_IMR"].points == Decimal("4.10")
    assert a.indicators["EHR_USAGE"].status == "不计分"
    assert (a.points, a.max_points, a.total) == (Decimal("30.10"), Decimal(35), Decimal("86.00"))
    b = scores["B"]
    assert b.indicators["HTN_STD_MGMT"].points == Decimal("5.00")
    assert (b.points, b.max_points, b.total) == (Decimal("38.00"), Decimal(43), Decimal("88.37"))
    assert scores["C"].total is None and scores["C"].rank is None
    assert scores["D"].total == Decimal("90.00")
    assert [scores[k].rank for k in "DBA"] == [1, 2, 3]


def test_equal_totals_share_a_rank() -> None:
    rows = [_row(f, "EHR_FILING", v, "75") for f, v in (("A", "75"), ("B", "80"), ("C", "60"))]
    ranked = scoring.score_facilities(rows, RULES)
    assert [(s.org_unit_code, s.rank) for s in ranked] == [("A", 1), ("B", 1), ("C", 3)]


def test_the_seed_scores_every_catalogue_indicator_and_scored_weights_sum_to_100() -> None:
    import csv

    rules = scoring.load_rules()
    catalogue = scoring.SEED.parent / "indicator_catalogue.csv"
    with open(catalogue, encoding="utf-8") as fh:
        codes = [r["indicator_code"] for r in csv.DictReader(fh)]
    assert sorted(rules) == sorted(codes)
    scored = [r for r in rules.values() if r.rule == "target_proportional"]
    assert sum(r.weight for r in scored) == 100
    assert all(r.weight == 0 for r in rules.values() if r.rule == "not_scored")


# --- publication rule ------------------------------------------------------------------------


def test_no_publication_is_refused() -> None:
    with pytest.raises(data.NotPublished, match="no published marts"):
        data.require_publication(None, date(2026, 11, 30), "bulletin 2026-11")


def test_a_publication_before_the_month_end_is_refused_and_one_at_it_accepted() -> None:
    with pytest.raises(data.NotPublished, match="data up to 2026-11-30, before 2026-12-31"):
        data.require_publication(PUB, date(2026, 12, 31), "bulletin 2026-12")
    assert data.require_publication(PUB, date(2026, 11, 30), "bulletin 2026-11") is PUB


def test_months_and_the_latest_complete_month() -> None:
    assert data.parse_month("2026-11") == (2026, 11)
    for bad in ("2026-13", "11-2026", "2026/11", "26-11"):
        with pytest.raises(ValueError):
            data.parse_month(bad)
    assert data.latest_complete_month(date(2026, 11, 30)) == (2026, 11)
    assert data.latest_complete_month(date(2026, 11, 29)) == (2026, 10)
    assert data.latest_complete_month(date(2027, 1, 5)) == (2026, 12)
    assert jobs.appraisal_as_of(2026, {}) == date(2026, 10, 31)
    assert jobs.appraisal_as_of(2026, {"PHW_APPRAISAL_AS_OF_MONTH": "11"}) == date(2026, 11, 30)


# --- outbox ----------------------------------------------------------------------------------


def _build(folder: Path, content: bytes) -> list[Path]:
    with outbox.building(folder) as stage:
        f = stage / "a.xlsx"
        f.write_bytes(content)
        outbox.write_manifest(stage, "bulletin", "2026-11", PUB, datetime.now(UTC), [f])
    return [folder / "a.xlsx"]


def test_outbox_manifest_modes_and_atomic_rebuild(tmp_path: Path) -> None:
    folder = tmp_path / "exports" / "bulletin" / "2026-11"
    _build(folder, b"first")
    manifest = outbox.read_manifest(folder)
    assert manifest["period"] == "2026-11"
    assert manifest["publication_id"] == PUB.publication_id
    assert manifest["files"] == [
        {"file": "a.xlsx", "sha256": hashlib.sha256(b"first").hexdigest(), "bytes": 5}
    ]
    assert datetime.fromisoformat(manifest["generated_at"]).tzinfo is not None
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for f in folder.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert outbox.verify(folder) == []

    _build(folder, b"second")  # a rebuild replaces the whole folder
    assert (folder / "a.xlsx").read_bytes() == b"second"
    assert outbox.verify(folder) == []
    assert sorted(p.name for p in folder.parent.iterdir()) == ["2026-11"]  # no leftovers

    with pytest.raises(RuntimeError, match="render failed"), outbox.building(folder) as stage:
        (stage / "a.xlsx").write_bytes(b"half")
        raise RuntimeError("render failed")
    assert (folder / "a.xlsx").read_bytes() == b"second"  # the old set stays whole
    assert sorted(p.name for p in folder.parent.iterdir()) == ["2026-11"]

    (folder / "a.xlsx").write_bytes(b"tampered")
    assert outbox.verify(folder) == ["a.xlsx: SHA-256 differs from the manifest"]


# --- delivery --------------------------------------------------------------------------------


def test_delivery_attaches_the_files_and_does_not_resend_unless_forced(
    tmp_path: Path,
    smtp_server,  # noqa: F811
) -> None:
    folder = tmp_path / "bulletin" / "2026-11"
    files = _build(folder, b"PK-fake-xlsx")
    result = jobs.ExportResult(folder, files, outbox.read_manifest(folder))
    env = {
        "PHW_SMTP_HOST": "127.0.0.1",
        "PHW_SMTP_PORT": str(smtp_server.server_address[1]),
        "PHW_SMTP_FROM": "bulletin@wjw.example",
        "PHW_SMTP_TIMEOUT": "5",
        "PHW_EXPORT_TO": "jkglzx@wjw.example, jkk@wjw.example",
    }
    record = jobs.deliver(result, "惠济区工作简报（2026年第11期）", env, force=False)
    assert record and record["to"] == ["jkglzx@wjw.example", "jkk@wjw.example"]
    (mail,) = smtp_server.messages
    assert mail["rcpt"] == ["jkglzx@wjw.example", "jkk@wjw.example"]
    msg = email.message_from_bytes(mail["message"].as_bytes(), policy=email.policy.default)
    assert msg["Subject"] == "惠济区工作简报（2026年第11期）"
    attachments = {p.get_filename(): p.get_payload(decode=True) for p in msg.iter_attachments()}
    assert attachments == {"a.xlsx": b"PK-fake-xlsx"}
    assert stat.S_IMODE(delivery.sent_record(folder).stat().st_mode) == 0o600

    assert jobs.deliver(result, "again", env, force=False) is None  # already sent
    assert len(smtp_server.messages) == 1
    jobs.deliver(result, "again", env, force=True)
    assert len(smtp_server.messages) == 2


def test_send_without_recipients_or_host_fails_clearly(tmp_path: Path) -> None:
    folder = tmp_path / "appraisal" / "2026"
    files = _build(folder, b"x")
    result = jobs.ExportResult(folder, files, outbox.read_manifest(folder))
    with pytest.raises(delivery.DeliveryError, match="PHW_SMTP_HOST"):
        jobs.deliver(result, "s", {"PHW_EXPORT_TO": "a@b"}, force=False)
    with pytest.raises(delivery.DeliveryError, match="PHW_EXPORT_TO"):
        jobs.deliver(result, "s", {"PHW_SMTP_HOST": "127.0.0.1"}, force=False)
