"""Render the field tables of ``docs/platform_schema.md`` from ``schema.py``.

``python -m phwarehouse.platform.schema_doc > /tmp/tables.md`` prints the tables; the document's
prose is maintained by hand around them.
"""

from __future__ import annotations

from phwarehouse.platform.schema import ENTITIES


def render_tables() -> str:
    parts = []
    for name, entity in ENTITIES.items():
        k = entity.keys
        parts.append(f"### `{name}` — {entity.zh}\n")
        parts.append(
            f"Contract keys: record id `{k.record_id}`, person reference "
            f"{f'`{k.person_ref}`' if k.person_ref else '—'}, event date "
            f"{f'`{k.event_date}`' if k.event_date else '—'}.\n"
        )
        parts.append("| field | 中文表头 | type | required | WS 363 | notes |")
        parts.append("|---|---|---|---|---|---|")
        for f in entity.fields:
            parts.append(
                f"| `{f.name}` | {f.zh} | {f.type} | {'yes' if f.required else 'no'} | "
                f"{f.ws363 or ''} | {f.description} |"
            )
        parts.append("")
    return "\n".join(parts)


if __name__ == "__main__":
    print(render_tables())
