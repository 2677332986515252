"""The dashboards as code: the committed bundle is the rendering of the catalogue, every chart
reads columns and metrics its dataset has, filters target real columns, and access.yml turns
into the row-level-security clauses the issue asks for. No services needed."""

from __future__ import annotations

import csv
import json
import re
import uuid
from pathlib import Path

import pytest
import yaml

from phwarehouse.dashboards import access, bundle, catalog
from phwarehouse.dashboards.model_docs import dashboard_models
from phwarehouse.platform.schema import ENTITIES

REPO = Path(__file__).resolve().parents[2]


def test_committed_bundle_and_exposures_are_the_rendering_of_the_catalogue() -> None:
    """Edit the catalogue, then `python -m phwarehouse.dashboards render`: the YAML in git is
    what the importer reads, so it must not drift from the declaration."""
    assert bundle.read() == bundle.render(), "run: python -m phwarehouse.dashboards render"
    assert bundle.EXPOSURES_YML.read_text(encoding="utf-8") == bundle.exposures()


def test_rendering_is_stable_and_every_uuid_is_unique() -> None:
    first, second = bundle.render(), bundle.render()
    assert first == second
    uuids = [yaml.safe_load(text)["uuid"] for name, text in first.items() if "/" in name]
    assert len(uuids) == len(set(uuids)) == len(first) - 1  # all but metadata.yaml


def test_bundle_has_one_yaml_per_asset_and_no_password() -> None:
    files = bundle.render()
    kinds = {name.split("/")[0] for name in files}
    assert kinds == {"metadata.yaml", "databases", "datasets", "charts", "dashboards"}
    assert yaml.safe_load(files["metadata.yaml"]) == {"version": "1.0.0", "type": "assets"}
    assert sum(n.startswith("dashboards/") for n in files) == 9
    database = yaml.safe_load(files[bundle.DATABASE_FILE])
    assert ":XXXXXXXXXX@" in database["sqlalchemy_uri"]
    assert database["database_name"] == bundle.DATABASE_NAME
    for text in files.values():
        assert "password" not in text.lower() or "XXXXXXXXXX" in text


def test_datasets_are_the_contracted_dashboard_views_with_dbt_descriptions() -> None:
    models = dashboard_models()
    for name, text in bundle.render().items():
        if not name.startswith("datasets/"):
            continue
        config = yaml.safe_load(text)
        model = models[config["table_name"]]
        assert config["schema"] == "marts"
        assert [c["column_name"] for c in config["columns"]] == [c.name for c in model.columns]
        for column in config["columns"]:
            doc = model.column(column["column_name"])
            assert column["description"] == doc.description and doc.description
            assert column["verbose_name"] == doc.label_zh
    # the contract in dbt and the datasets name the same views
    contracted = yaml.safe_load(bundle.EXPOSURES_YML.read_text(encoding="utf-8"))
    assert {f"ref('{m}')" for m in models} == {
        d for e in contracted["exposures"] for d in e["depends_on"]
    }


def _referenced_columns(sql: str) -> set[str]:
    return set(re.findall(r"\b([a-z_]+)\b", re.sub(r"'[^']*'", "", sql))) - {
        "in",
        "is",
        "not",
        "null",
        "and",
        "or",
        "min",
    }


def test_every_chart_reads_columns_and_metrics_of_its_dataset() -> None:
    for dashboard in catalog.dashboards():
        for chart in dashboard.charts:
            columns = dashboard_models()[chart.dataset].column_names
            metrics = {m.name for m in catalog.DATASETS[chart.dataset].metrics}
            assert set(chart.columns) <= columns, chart.key
            assert set(chart.metrics) <= metrics, chart.key
            for condition in chart.where:
                assert _referenced_columns(condition) <= columns, (chart.key, condition)
            for term, _ in chart.order_by:
                assert term in metrics or _referenced_columns(term) <= columns, chart.key


def test_every_chart_has_a_query_context_the_chart_data_api_can_run() -> None:
    for name, text in bundle.render().items():
        if not name.startswith("charts/"):
            continue
        config = yaml.safe_load(text)
        context = json.loads(config["query_context"])
        assert context["form_data"] == config["params"]
        (query,) = context["queries"]
        assert query["columns"] or query["metrics"], name


def test_native_filters_target_columns_of_their_dataset_and_skip_charts_without_them() -> None:
    ids = {}
    for name, text in bundle.render().items():
        if name.startswith("dashboards/"):
            config = yaml.safe_load(text)
            ids = {
                node["meta"]["uuid"]: node["meta"]["chartId"]
                for node in config["position"].values()
                if isinstance(node, dict) and node.get("type") == "CHART"
            }
            dashboard = next(d for d in catalog.dashboards() if d.slug == config["slug"])
            filters = config["metadata"]["native_filter_configuration"]
            assert [f["name"] for f in filters] == [f.name for f in dashboard.filters]
            for native, declared in zip(filters, dashboard.filters, strict=True):
                (target,) = native["targets"]
                assert target["datasetUuid"] == bundle.dataset_uuid(declared.dataset)
                assert declared.column in dashboard_models()[declared.dataset].column_names
                excluded = set(native["scope"]["excluded"])
                for chart in dashboard.charts:
                    chart_id = ids[bundle.chart_uuid(chart)]
                    assert (chart_id in excluded) == (not bundle.applies(declared, chart))
    assert ids


def test_overview_filters_default_to_the_latest_period_and_highest_visible_level() -> None:
    overview = next(d for d in catalog.dashboards() if d.slug == "overview")
    by_key = {f.key: f for f in overview.filters}
    assert by_key["period_type"].default == catalog.MONTH_YTD
    # the latest period: the first value of period_key sorted descending ('2026-12' first)
    period = by_key["period"]
    assert period.first_by_default and not period.sort_ascending
    assert sorted(["2026-09", "2026-12", "2026-10"], reverse=not period.sort_ascending)[0] == (
        "2026-12"
    )
    # the highest level a user may see: the first label sorted ascending
    level = by_key["level"]
    assert level.first_by_default and level.sort_ascending
    assert {f.key for f in overview.filters} >= {"period_type", "period", "township", "facility"}


def test_a_trend_chart_for_every_indicator_in_its_domain_dashboard() -> None:
    codes = {i.code for i in catalog.indicators()}
    trends = {
        chart.key.removeprefix("trend_").upper()
        for d in catalog.dashboards()
        for chart in d.charts
        if chart.key.startswith("trend_")
    }
    assert trends == codes and len(codes) == 25


def test_layout_rows_fit_the_grid() -> None:
    for dashboard in catalog.dashboards():
        for row in dashboard.rows:
            assert sum(chart.width for chart in row) <= 12, dashboard.slug


def test_entity_names_seed_is_the_platform_contract() -> None:
    """Every platform entity has its contract's Chinese name, so that no dashboard shows an
    entity's code (the data-quality pages list EHRs, org units and reports too)."""
    with (REPO / "dbt_project" / "seeds" / "entity_names.csv").open(encoding="utf-8") as f:
        seed = {r["entity"]: r["name_zh"] for r in csv.DictReader(f)}
    assert seed == {entity: e.zh for entity, e in ENTITIES.items()}


# --- access.yml ---------------------------------------------------------------------------


def test_access_file_declares_a_user_per_level() -> None:
    users = access.load_users()
    assert {u.level for u in users} == set(access.LEVELS)
    assert len({u.password_variable for u in users}) == len(users)


def test_rls_clauses_township_sees_its_facilities_facility_only_itself() -> None:
    township = access.User("t", "t", "t", "township", "410108001")
    facility = access.User("f", "f", "f", "facility", "41010800100")
    district = access.User("d", "d", "d", "district", "410108")
    assert township.rls_clause == (
        "township_code = '410108001' AND org_level IN ('township', 'facility')"
    )
    assert facility.rls_clause == "facility_code = '41010800100' AND org_level = 'facility'"
    assert district.rls_clause is None and district.rls_role is None
    assert township.rls_role != facility.rls_role


RLS_COLUMNS = {"township_code", "facility_code", "org_level"}


def test_rls_columns_exist_in_every_dataset_but_the_deliberately_exempt() -> None:
    models = dashboard_models()
    assert set(catalog.DATASETS) == set(models)
    for dataset in catalog.DATASETS.values():
        columns = models[dataset.model].column_names
        if dataset.row_level_security:
            assert columns >= RLS_COLUMNS, dataset.model
        else:  # exempt only when it holds no org-unit data at all
            assert not columns & (RLS_COLUMNS | {"org_unit_code", "township_name"}), dataset.model
    exempt = {d.model for d in catalog.DATASETS.values() if not d.row_level_security}
    assert exempt == {catalog.PUBLICATION}


def test_superset_apply_puts_no_rls_filter_on_the_publication_stamp_only() -> None:
    """The viewer role reads every dataset of the bundle (the stamp included); the RLS filters
    go on all but the exempt one."""
    from phwarehouse.dashboards import superset_apply

    files = bundle.render()
    assert f"datasets/warehouse/{catalog.PUBLICATION}.yaml" in files
    assert superset_apply.rls_exempt(files) == {uuid.UUID(bundle.dataset_uuid(catalog.PUBLICATION))}


def test_every_dashboard_shows_the_publication_stamp_in_its_header_row() -> None:
    stamp = catalog.PUBLICATION_STAMP
    labels = {c.name: c.label_zh for c in dashboard_models()[stamp.dataset].columns}
    assert [labels[c] for c in stamp.columns] == ["数据截至", "发布编号", "发布时间"]
    for name, text in bundle.render().items():
        if not name.startswith("dashboards/"):
            continue
        config = yaml.safe_load(text)
        position = config["position"]
        chart = position[f"CHART-{stamp.key}"]
        assert chart["meta"]["uuid"] == bundle.chart_uuid(stamp), name
        assert chart["parents"][-1] == "ROW-intro", name  # beside the intro, at the top
        assert position["GRID_ID"]["children"][0] == "ROW-intro", name
        widths = [position[c]["meta"]["width"] for c in position["ROW-intro"]["children"]]
        assert sum(widths) == 12, name
        # no native filter applies to it (its dataset has none of their columns)
        for native in config["metadata"]["native_filter_configuration"]:
            assert chart["meta"]["chartId"] in native["scope"]["excluded"], (name, native["id"])
    assert all(stamp in d.charts for d in catalog.dashboards())
    # the dates are shown as dates, not Superset's smart_date ("Sun 22")
    column_config = bundle.form_data(stamp)["column_config"]
    assert column_config["data_cutoff_date"] == {"d3TimeFormat": "%Y-%m-%d"}
    assert column_config["published_at"] == {"d3TimeFormat": "%Y-%m-%d %H:%M:%S"}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"username": "x", "level": "province", "org_unit_code": "41"}, "level must be"),
        ({"username": "x", "level": "facility", "org_unit_code": "1' or '1'='1"}, "not an org"),
        ({"username": "x", "level": "facility"}, "lacks org_unit_code"),
        ({"username": "admin", "level": "district", "org_unit_code": "410108"}, "twice"),
    ],
)
def test_a_bad_access_file_is_refused_with_a_clear_error(tmp_path, entry, message) -> None:
    path = tmp_path / "access.yml"
    path.write_text(yaml.safe_dump({"users": [entry]}), encoding="utf-8")
    with pytest.raises(access.AccessConfigError, match=message):
        access.load_users(path)


def test_every_data_quality_reason_has_a_chinese_name() -> None:
    """The 数据质量 dashboard names every reason the ingestion and the models can give: the
    quarantine reasons, the field issues and the exclusion reasons the models' check
    constraint accepts."""
    from phwarehouse.ingestion import validation

    with (REPO / "dbt_project" / "seeds" / "data_quality_reasons.csv").open(encoding="utf-8") as f:
        named = {row["reason_kind"] for row in csv.DictReader(f)}
    models = yaml.safe_load(
        (
            REPO / "dbt_project" / "models" / "intermediate" / "quality" / "_quality__models.yml"
        ).read_text(encoding="utf-8")
    )
    reason = next(c for c in models["models"][0]["columns"] if c["name"] == "reason")
    accepted = next(c for c in reason["constraints"] if c["type"] == "check")
    exclusion_reasons = set(re.findall(r"'([a-z_0-9]+)'", accepted["expression"]))
    assert len(exclusion_reasons) > 20
    expected = (
        set(validation.REASONS) | set(validation.FIELD_ISSUE_REASONS) | exclusion_reasons
    ) | {"conflicting_version"}
    # the population file's row reasons (phwarehouse.ingestion.file_drops)
    expected |= {"missing_key", "invalid_code", "extra_columns", "unknown_township"}
    assert expected - named == set()
