"""Every line of a generated feed, dirty or clean: the ingestion's fast path (validate_clean)
and the full check give the same record, and the fast path takes every clean record."""

from __future__ import annotations

import json
from pathlib import Path

from tests.unit.test_clean_path import full_check, same

from phwarehouse.ingestion.contracts import ENTITIES, contract_for
from phwarehouse.ingestion.raw_store import ValidRecord
from phwarehouse.ingestion.validation import validate_clean, validate_received


def _lines(data: Path, entity: str) -> list[bytes]:
    return (data / "jsonl" / f"{entity}.jsonl").read_bytes().splitlines()


def test_both_paths_agree_on_every_line_of_a_dirty_feed(dirty_dir: Path) -> None:
    fast = refused = 0
    for entity in ENTITIES:
        contract = contract_for(entity)
        for line in _lines(dirty_dir, entity):
            full = full_check(contract, line)
            assert same(validate_received(contract, line), full), line
            if validate_clean(contract, line) is None:
                refused += 1
            else:
                fast += 1
                assert isinstance(full, ValidRecord) and not full.field_issues, line
    # the dirty feed's faults are a few percent of its rows: most rows still go fast
    assert refused > 0 and fast > 20 * refused, (fast, refused)


def test_the_fast_path_takes_every_live_record_of_a_clean_feed(clean_dir: Path) -> None:
    for entity in ENTITIES:
        contract = contract_for(entity)
        for line in _lines(clean_dir, entity):
            tombstone = json.loads(line).get("deleted") is True
            assert (validate_clean(contract, line) is None) == tombstone, line
