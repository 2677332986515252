"""The source contract of each platform entity, as the ingestion enforces it.

Derived from the platform's published interface (`phwarehouse.contract`, documented in
docs/platform_schema.md): the key fields a row cannot lack and the fields whose type is checked.
"""

from __future__ import annotations

from dataclasses import dataclass

from phwarehouse import contract as platform_contract


@dataclass(frozen=True)
class EntityContract:
    name: str
    person_ref: str | None
    event_date: str | None
    event_is_month: bool = False
    numeric_fields: tuple[str, ...] = ()
    integer_fields: tuple[str, ...] = ()
    date_fields: tuple[str, ...] = ()
    datetime_fields: tuple[str, ...] = ()
    boolean_fields: tuple[str, ...] = ()
    #: fields checked as the record's envelope and keys, never as field issues
    envelope: frozenset[str] = frozenset()


def _contract(entity: platform_contract.Entity) -> EntityContract:
    payload = entity.payload_fields()
    event = entity.keys.event_date
    keys = {entity.keys.person_ref, event} - {None}

    def typed(*types: str) -> tuple[str, ...]:
        return tuple(f.name for f in payload if f.type in types and f.name not in keys)

    return EntityContract(
        name=entity.name,
        person_ref=entity.keys.person_ref,
        event_date=event,
        event_is_month=bool(event) and entity.field(event).type == "month",
        numeric_fields=typed("integer", "number"),
        integer_fields=typed("integer"),
        date_fields=typed("date"),
        datetime_fields=typed("datetime"),
        boolean_fields=typed("boolean"),
        envelope=frozenset(f.name for f in platform_contract.ENVELOPE) | keys,
    )


CONTRACTS: dict[str, EntityContract] = {
    n: _contract(e) for n, e in platform_contract.ENTITIES.items()
}
ENTITIES: tuple[str, ...] = tuple(CONTRACTS)


def contract_for(entity: str) -> EntityContract:
    try:
        return CONTRACTS[entity]
    except KeyError:
        raise KeyError(f"no source contract for entity {entity!r}") from None
