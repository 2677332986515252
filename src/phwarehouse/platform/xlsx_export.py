"""Monthly XLSX exports like staff download them from the platform: one workbook per entity per
month (``<entity>_<YYYY-MM>.xlsx``, sheet named after the entity's Chinese name), Chinese column
headers in row 1, one row per record whose event date falls in the month (latest version,
deleted records dropped; entities without an event date are exported whole)."""

from __future__ import annotations

import json
from pathlib import Path

from openpyxl import Workbook

from phwarehouse.contract import CONTRACT_KEYS, ENTITIES


def _current_records(path: Path, date_field: str | None, month: str) -> list[dict]:
    latest: dict[str, dict] = {}
    order: list[str] = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # the platform's export never shows broken rows
            rid = rec.get("record_id")
            if rid is None:
                continue
            if rec.get("deleted"):
                latest.pop(rid, None)
                continue
            if date_field is not None:
                value = rec.get(date_field)
                if not isinstance(value, str) or value[:7] != month:
                    latest.pop(rid, None)
                    continue
            if rid not in latest:
                order.append(rid)
            latest[rid] = rec
    return [latest[r] for r in order if r in latest]


def export_month(
    data_dir: Path | str, month: str, out_dir: Path | str, entities: list[str] | None = None
) -> list[Path]:
    """Write the month's workbooks; returns their paths."""
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in entities or list(ENTITIES):
        src = data_dir / "jsonl" / f"{name}.jsonl"
        if not src.exists():
            continue
        spec = ENTITIES[name]
        records = _current_records(src, CONTRACT_KEYS[name].event_date, month)
        wb = Workbook(write_only=True)
        ws = wb.create_sheet(spec.zh[:31])
        fields = [f for f in spec.fields if f.name != "deleted"]
        ws.append([f.zh for f in fields])
        for rec in records:
            ws.append([_cell(rec.get(f.name)) for f in fields])
        path = out_dir / f"{name}_{month}.xlsx"
        wb.save(path)
        written.append(path)
    return written


def _cell(value):
    if isinstance(value, bool):
        return "是" if value else "否"
    return value
