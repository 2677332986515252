"""Airflow's users and roles (FAB auth manager): one user per role, passwords generated per stack.

The data engineers' roles are FAB's built-in ones: `admin` (Admin: everything, users too),
`operator` (Op: trigger, clear and pause runs, edit connections and variables) and `viewer`
(Viewer: read DAGs, runs and logs). Run inside Airflow's environment as
`python -m phwarehouse.stack.airflow_users`; it reads each password from the environment variable
named by `password_variable()`, never from a command line.
"""

from __future__ import annotations

import os
import sys

# user name -> FAB role; declared once, used by the stack, the compose file's init and the tests
USERS: dict[str, str] = {"admin": "Admin", "operator": "Op", "viewer": "Viewer"}

# FAB's flask-limiter rule for the login form, also applied to the token endpoint
# (phwarehouse.pipeline.login_throttle)
LOGIN_RATE_LIMIT = "5 per 40 second"


def password_variable(user: str) -> str:
    """The credentials-file variable holding the user's password, e.g. AIRFLOW_OPERATOR_PASSWORD."""
    return f"AIRFLOW_{user.upper()}_PASSWORD"


def sync(environ: dict[str, str]) -> list[str]:
    """Create missing users, set every user's role and password (idempotent); returns a line
    per user."""
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    done = []
    with get_application_builder() as appbuilder:
        sm = appbuilder.sm
        sm.sync_roles()  # the built-in roles and their permissions
        for user, role_name in USERS.items():
            password = environ[password_variable(user)]
            role = sm.find_role(role_name)
            if role is None:
                raise RuntimeError(f"FAB role {role_name} is missing")
            found = sm.find_user(username=user)
            if found is None:
                if not sm.add_user(user, user, "phwarehouse", f"{user}@localhost", role, password):
                    raise RuntimeError(f"could not create Airflow user {user}")
                done.append(f"{user}: created ({role_name})")
                continue
            found.roles = [role]
            found.active = True
            sm.update_user(found)
            sm.reset_password(found.id, password)
            done.append(f"{user}: updated ({role_name})")
    return done


def main() -> int:
    for line in sync(dict(os.environ)):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
