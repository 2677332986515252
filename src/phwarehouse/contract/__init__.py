"""The platform contract, declared once (``entities``), and what is generated from it
(``generate``: the dbt sources, the dbt macro ``platform_contract`` and the field tables of
docs/platform_schema.md). Neither the simulator nor the ingestion: both import it."""

from phwarehouse.contract.entities import (
    CONTRACT_KEYS,
    ENTITIES,
    ENTITY_NAMES,
    ENVELOPE,
    TYPES,
    ContractKeys,
    Entity,
    Field,
    contract_key_fields,
    zh_headers,
)

__all__ = [
    "CONTRACT_KEYS",
    "ENTITIES",
    "ENTITY_NAMES",
    "ENVELOPE",
    "TYPES",
    "ContractKeys",
    "Entity",
    "Field",
    "contract_key_fields",
    "zh_headers",
]
