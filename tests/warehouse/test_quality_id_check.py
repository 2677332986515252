"""The quality gate's ID-number rule (GB 11643 check character) evaluated by PostgreSQL."""

from __future__ import annotations

import psycopg
import pytest

from phwarehouse.quality.checks import gb11643_valid_sql

# Worked by hand: 1·7+1·9+0·10+1·5+0·8+5·4+1·2+9·1+4·6+9·3+1·7+2·9+3·10+1·5+0·8+0·4+2·2 = 167,
# 167 mod 11 = 2, '10X98765432'[2] = 'X'; and for 41010819850312456: 259 mod 11 = 6 -> '6'.
CASES = [
    ("11010519491231002X", True),
    (" 11010519491231002x ", True),  # trimmed and upper-cased, as staging reads it
    ("410108198503124566", True),
    ("410108198503124567", False),  # wrong check character
    ("110105194912310021", False),
    ("11010519491231002", False),  # 17 characters
    ("1101051949123100AX", False),  # letters in the body
    ("", False),
    (None, False),
]


@pytest.mark.parametrize(("id_number", "valid"), CASES)
def test_check_character_rule(admin_dsn: str, id_number: str | None, valid: bool) -> None:
    with psycopg.connect(admin_dsn) as conn:
        (result,) = conn.execute(
            f"select {gb11643_valid_sql('x.id')} from (select %s::text as id) as x", (id_number,)
        ).fetchone()
    assert result is valid
