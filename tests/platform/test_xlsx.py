from __future__ import annotations

from openpyxl import load_workbook
from platform_helpers import current

from phwarehouse.platform.schema import ENTITIES
from phwarehouse.platform.xlsx_export import export_month


def test_monthly_export_has_chinese_headers(dirty_dir, tmp_path):
    paths = export_month(dirty_dir, "2026-10", tmp_path, ["htn_followups", "residents"])
    assert [p.name for p in paths] == ["htn_followups_2026-10.xlsx", "residents_2026-10.xlsx"]
    wb = load_workbook(paths[0], read_only=True)
    ws = wb[ENTITIES["htn_followups"].zh]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:5] == ("记录ID", "版本号", "更新时间", "居民档案记录ID", "身份证件号码")
    assert "收缩压(mmHg)" in rows[0] and "随访日期" in rows[0]
    expected = [
        r
        for r in current(dirty_dir, "htn_followups").values()
        if (r.get("followup_date") or "").startswith("2026-10")
    ]
    assert len(rows) - 1 == len(expected) > 0
