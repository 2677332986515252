"""Render the GX 1.x File Data Context in `expectations/gx` from `phwarehouse.quality.checks`.

Written: `great_expectations.yml` (the Postgres data source, its connection string from the
environment variable PHW_GX_WAREHOUSE_URL via GX's `${VAR}` substitution: no secret in git; two
table assets), one suite per check group (`expectations/*.json`), their validation definitions
and the checkpoint `quality_gate` (which also updates the Data Docs). Ids are stable (uuid5 of
the name), so rendering twice gives the same files; `uncommitted/` (results, Data Docs) is
git-ignored. Run `python -m phwarehouse.quality render` after changing a check.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import yaml

from phwarehouse.quality import checks as checks_mod
from phwarehouse.quality.gate import CHECKPOINT, GX_URL_VARIABLE, PROJECT_DIR

NAMESPACE = uuid.UUID("6f1c2d0e-55c1-4c39-9d5c-5b7c1f0e9a10")
DATASOURCE = "warehouse"
GX_VERSION = "1.24.1"

# suite -> (asset name, schema, table): the batch `{batch}` of the suite's SQL
ASSETS = {
    "raw_load": ("gate_window", "quality", "gate_window"),
    "candidate_marts": (
        "candidate_indicator_values",
        checks_mod.CANDIDATE_SCHEMA,
        "fct_indicator_values",
    ),
}

HEADER = """\
# GX 1.x File Data Context of the quality gate. Rendered by `python -m phwarehouse.quality
# render` from src/phwarehouse/quality/checks.py: edit the checks there, not here.
# The connection string comes from the environment (${PHW_GX_WAREHOUSE_URL}, set by the gate
# from the warehouse role's credentials); nothing secret is committed.
"""


def _id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def render_files() -> dict[str, str]:
    """Relative path (under expectations/) -> content."""
    files: dict[str, str] = {}
    checks = checks_mod.all_checks()
    assets = {}
    for asset, schema_name, table in ASSETS.values():
        assets[asset] = {
            "type": "table",
            "id": _id("asset", asset),
            "batch_metadata": {},
            "batch_definitions": {"whole_table": {"id": _id("batch", asset), "partitioner": None}},
            "table_name": table,
            "schema_name": schema_name,
        }
    config = {
        "config_version": 4.0,
        "config_variables_file_path": "uncommitted/config_variables.yml",
        "plugins_directory": "plugins/",
        "stores": {
            "expectations_store": {
                "class_name": "ExpectationsStore",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": "expectations/",
                },
            },
            "validation_results_store": {
                "class_name": "ValidationResultsStore",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": "uncommitted/validations/",
                },
            },
            "checkpoint_store": {
                "class_name": "CheckpointStore",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "suppress_store_backend_id": True,
                    "base_directory": "checkpoints/",
                },
            },
            "validation_definition_store": {
                "class_name": "ValidationDefinitionStore",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": "validation_definitions/",
                },
            },
        },
        "expectations_store_name": "expectations_store",
        "validation_results_store_name": "validation_results_store",
        "checkpoint_store_name": "checkpoint_store",
        "data_docs_sites": {
            "local_site": {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": "uncommitted/data_docs/local_site/",
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
        "fluent_datasources": {
            DATASOURCE: {
                "type": "postgres",
                "id": _id("datasource", DATASOURCE),
                "assets": assets,
                "connection_string": "${" + GX_URL_VARIABLE + "}",
            }
        },
        "analytics_enabled": False,
        "data_context_id": _id("context"),
    }
    files["gx/great_expectations.yml"] = HEADER + yaml.safe_dump(
        config, sort_keys=False, allow_unicode=True, width=100
    )
    # results, Data Docs and the store ids GX writes when it first opens a store
    files["gx/.gitignore"] = "uncommitted/\n.ge_store_backend_id\n"
    validation_ids = []
    for suite, (asset, _, _) in ASSETS.items():
        expectations = [
            {
                "description": f"[{c.kind}, {c.severity}] {c.name}: {c.description}"
                + (f" Threshold: {c.threshold}." if c.threshold else ""),
                "id": _id("expectation", c.name),
                "kwargs": {"unexpected_rows_query": c.gx_query},
                "meta": {
                    "check": c.name,
                    "kind": c.kind,
                    "severity": c.severity,
                    "threshold": c.threshold,
                },
                "severity": checks_mod.SEVERITIES[c.severity],
                "type": "unexpected_rows_expectation",
            }
            for c in checks
            if c.suite == suite
        ]
        files[f"gx/expectations/{suite}.json"] = _json(
            {
                "expectations": expectations,
                "id": _id("suite", suite),
                "meta": {"great_expectations_version": GX_VERSION},
                "name": suite,
                "notes": None,
            }
        )
        files[f"gx/validation_definitions/{suite}.json"] = _json(
            {
                "data": {
                    "asset": {"id": _id("asset", asset), "name": asset},
                    "batch_definition": {"id": _id("batch", asset), "name": "whole_table"},
                    "datasource": {"id": _id("datasource", DATASOURCE), "name": DATASOURCE},
                },
                "id": _id("validation", suite),
                "name": suite,
                "suite": {"id": _id("suite", suite), "name": suite},
            }
        )
        validation_ids.append({"id": _id("validation", suite), "name": suite})
    files[f"gx/checkpoints/{CHECKPOINT}.json"] = _json(
        {
            "actions": [{"name": "data_docs", "site_names": [], "type": "update_data_docs"}],
            "id": _id("checkpoint", CHECKPOINT),
            "name": CHECKPOINT,
            "result_format": "SUMMARY",
            "validation_definitions": validation_ids,
        }
    )
    return files


def _json(obj: object) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def render(project_dir: Path = PROJECT_DIR) -> list[Path]:
    written = []
    for rel, content in render_files().items():
        path = project_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
            written.append(path)
    return written
