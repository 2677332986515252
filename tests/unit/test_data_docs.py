"""Which file a /data-docs/ path serves: folders give their index, nothing outside the site."""

from __future__ import annotations

from pathlib import Path

from phwarehouse.pipeline.data_docs import _resolve


def test_paths_resolve_inside_the_site_only(tmp_path: Path) -> None:
    site = tmp_path / "local_site"
    (site / "validations" / "run").mkdir(parents=True)
    (site / "index.html").write_text("index")
    (site / "validations" / "run" / "index.html").write_text("run")
    (tmp_path / "secret.yml").write_text("password: x")

    assert _resolve(site, "") == (site / "index.html").resolve()
    assert _resolve(site, "validations/run") == (site / "validations/run/index.html").resolve()
    assert _resolve(site, "validations/run/index.html") is not None
    assert _resolve(site, "../secret.yml") is None
    assert _resolve(site, "validations/../../secret.yml") is None
    assert _resolve(site, str(tmp_path / "secret.yml")) is None  # an absolute path
    assert _resolve(site, "missing.html") is None
