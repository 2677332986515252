"""The raw landing tables, declared once: the ingestion's DDL (``ingestion.raw_store``,
``ingestion.file_drops``) and the dbt sources (``generate``) are built from these columns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RawColumn:
    name: str
    ddl: str  # type and constraints, as in CREATE TABLE
    description: str


#: raw.<entity>, one per platform entity: every version of every record, payload as received
ENTITY_COLUMNS: tuple[RawColumn, ...] = (
    RawColumn("record_id", "text not null", "Platform record id."),
    RawColumn("version", "integer not null", "Platform version (1 for the first)."),
    RawColumn("source_updated_at", "timestamptz not null", "Envelope updated_at of this version."),
    RawColumn(
        "is_deleted",
        "boolean not null default false",
        "True for every version of a record whose newest version is a tombstone.",
    ),
    RawColumn(
        "is_latest",
        "boolean not null default true",
        "True for the newest version of the record.",
    ),
    RawColumn(
        "payload",
        "jsonb not null",
        "The record as sent (JSONB; field names from phwarehouse.contract).",
    ),
    RawColumn(
        "field_issues",
        "jsonb",
        "Fields of this version treated as missing (wrong type, unstorable value): a JSON"
        " array of field, reason and value; null when none (phwarehouse.ingestion.validation).",
    ),
    RawColumn("batch_id", "text not null", "Ingestion batch."),
    RawColumn(
        "extracted_at", "timestamptz not null", "When the batch was extracted from the platform."
    ),
    RawColumn("loaded_at", "timestamptz not null default now()", "When the row was landed."),
)
ENTITY_PRIMARY_KEY = ("record_id", "version")

#: raw.stat_population: the statistics bureau's population CSV drops
POPULATION_TABLE = "stat_population"
POPULATION_COLUMNS: tuple[RawColumn, ...] = (
    RawColumn("year", "integer not null", "Calendar year."),
    RawColumn("township_code", "text not null", "Township / street code."),
    RawColumn("township_name", "text", "Township / street name."),
    RawColumn("sex_code", "text not null", "GB/T 2261.1 sex code ('1' male, '2' female)."),
    RawColumn("age", "integer not null", "Single year of age."),
    RawColumn("population", "integer not null", "Resident population."),
    RawColumn("source_file", "text not null", "Source file name."),
    RawColumn("file_sha256", "text not null", "SHA-256 of the source file."),
    RawColumn("batch_id", "text not null", "Ingestion batch."),
    RawColumn("loaded_at", "timestamptz not null default now()", "When the row was landed."),
)
POPULATION_PRIMARY_KEY = ("year", "township_code", "sex_code", "age")


def create_table(table: str, columns: tuple[RawColumn, ...], primary_key: tuple[str, ...]) -> str:
    """``create table if not exists raw.<table> (...)`` for these columns."""
    lines = [f"    {c.name} {c.ddl}," for c in columns]
    lines.append(f"    primary key ({', '.join(primary_key)})")
    return f"create table if not exists raw.{table} (\n" + "\n".join(lines) + "\n);\n"
