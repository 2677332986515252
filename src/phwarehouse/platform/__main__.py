"""``python -m phwarehouse.platform`` entry point."""

from phwarehouse.platform.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
