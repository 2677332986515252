"""`python -m phwarehouse.dashboards render`: write the bundle into superset/assets."""

from __future__ import annotations

import sys

from phwarehouse.dashboards import bundle


def main(argv: list[str]) -> int:
    if argv[:1] != ["render"]:
        print("usage: python -m phwarehouse.dashboards render", file=sys.stderr)
        return 2
    files = bundle.write()
    print(f"wrote {len(files)} files into {bundle.ASSETS_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
