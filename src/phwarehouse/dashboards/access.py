"""Who sees what: `superset/access.yml` → Superset roles and row-level-security clauses.

Pure data (no Superset import): used by the importer in Superset's venv and by the tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from phwarehouse.settings import PROJECT_ROOT

ACCESS_FILE = PROJECT_ROOT / "superset" / "access.yml"
VIEWER_ROLE = "公共卫生看板查看"  # read the dashboards: no SQL Lab, no editing
LEVELS = ("district", "township", "facility")
_CODE = re.compile(r"^[0-9A-Za-z]{1,20}$")


@dataclass(frozen=True)
class User:
    username: str
    first_name: str
    last_name: str
    level: str
    org_unit_code: str

    @property
    def password_variable(self) -> str:
        """Where the generated password is kept (the credentials file)."""
        return "SUPERSET_USER_PASSWORD_" + re.sub(r"[^A-Z0-9]", "_", self.username.upper())

    @property
    def rls_role(self) -> str | None:
        """The role carrying the user's row-level-security filter (none for the district)."""
        return None if self.level == "district" else f"RLS {self.level} {self.org_unit_code}"

    @property
    def rls_clause(self) -> str | None:
        """The WHERE clause Superset adds to every query of every dashboard dataset.

        A township user sees the township's row and its facilities'; a facility user only the
        facility's rows (the district's and township's rows would reveal other facilities)."""
        if self.level == "township":
            return (
                f"township_code = '{self.org_unit_code}' AND org_level IN ('township', 'facility')"
            )
        if self.level == "facility":
            return f"facility_code = '{self.org_unit_code}' AND org_level = 'facility'"
        return None


class AccessConfigError(ValueError):
    pass


def load_users(path: Path = ACCESS_FILE) -> tuple[User, ...]:
    """The users of access.yml, validated (clear errors instead of a half-applied import)."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    users: list[User] = []
    seen: set[str] = set()
    for n, entry in enumerate(doc.get("users") or [], start=1):
        missing = {"username", "level", "org_unit_code"} - set(entry)
        if missing:
            raise AccessConfigError(f"{path.name}: user #{n} lacks {', '.join(sorted(missing))}")
        user = User(
            username=str(entry["username"]),
            first_name=str(entry.get("first_name") or entry["username"]),
            last_name=str(entry.get("last_name") or "-"),
            level=str(entry["level"]),
            org_unit_code=str(entry["org_unit_code"]),
        )
        if user.level not in LEVELS:
            raise AccessConfigError(
                f"{path.name}: user {user.username}: level must be one of {', '.join(LEVELS)}"
            )
        if not _CODE.match(user.org_unit_code):
            raise AccessConfigError(
                f"{path.name}: user {user.username}: org_unit_code {user.org_unit_code!r} "
                "is not an org unit code"
            )
        if user.username in seen or user.username == "admin":
            raise AccessConfigError(f"{path.name}: user {user.username} is declared twice")
        seen.add(user.username)
        users.append(user)
    return tuple(users)
