from __future__ import annotations

import json

from phwarehouse.platform.cli import main


def test_cli_generate_clean_with_override(tmp_path, capsys):
    out = tmp_path / "d"
    rc = main(
        [
            "generate",
            "--seed",
            "1",
            "--residents",
            "1500",
            "--start-year",
            "2025",
            "--as-of",
            "2026-03-05",
            "--out",
            str(out),
            "--clean",
            "--dirty",
            "deletion=0.05",
            "--workers",
            "1",
        ]
    )
    assert rc == 0
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m["dirty_config"]["deletion"] == 0.05 and m["dirty_config"]["correction"] == 0.0
    assert m["dirty_counts"]["deletion"]["total"] > 0
    assert sorted(p.name for p in (out / "population").iterdir()) == [
        "population_2025.csv",
        "population_2026.csv",
    ]
    assert "lines" in json.loads(capsys.readouterr().out)
