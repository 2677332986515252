"""`python -m phwarehouse.quality render`: write the GX project in expectations/ from the checks."""

from __future__ import annotations

import sys

from phwarehouse.quality import gx_project


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args != ["render"]:
        print("usage: python -m phwarehouse.quality render", file=sys.stderr)
        return 2
    for path in gx_project.render():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
