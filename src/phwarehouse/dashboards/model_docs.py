"""Columns of the dbt models Superset reads, as the dbt docs declare them (one place)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from phwarehouse.settings import PROJECT_ROOT

DASHBOARD_MODELS_YML = (
    PROJECT_ROOT / "dbt_project" / "models" / "marts" / "dashboards" / "_dashboards__models.yml"
)
MARTS_SCHEMA = "marts"


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    description: str
    label_zh: str


@dataclass(frozen=True)
class Model:
    name: str
    description: str
    columns: tuple[Column, ...]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r} in {DASHBOARD_MODELS_YML.name}")

    @property
    def column_names(self) -> frozenset[str]:
        return frozenset(c.name for c in self.columns)


def _squash(text: str | None) -> str:
    return " ".join((text or "").split())


@cache
def dashboard_models(path: Path = DASHBOARD_MODELS_YML) -> dict[str, Model]:
    """The contracted models of `models/marts/dashboards`, keyed by model name."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    models: dict[str, Model] = {}
    for model in doc["models"]:
        columns = tuple(
            Column(
                name=col["name"],
                data_type=col["data_type"],
                description=_squash(col.get("description")),
                label_zh=((col.get("config") or {}).get("meta") or {}).get("label_zh", col["name"]),
            )
            for col in model["columns"]
        )
        models[model["name"]] = Model(model["name"], _squash(model.get("description")), columns)
    return models
