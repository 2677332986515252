"""``python -m phwarehouse.platform {generate,export-xlsx,serve}``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from phwarehouse.platform.dirty import DirtyConfig


def _dirty_overrides(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        if not value:
            raise SystemExit(f"--dirty expects KEY=RATE, got {item!r}")
        out[key.strip()] = float(value)
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m phwarehouse.platform", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="generate a synthetic district")
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--residents", type=int, default=30_000, help="true resident population")
    g.add_argument("--start-year", type=int, default=None, help="default: as-of year - 2")
    g.add_argument("--as-of", default=None, help="YYYY-MM-DD, default today (UTC)")
    g.add_argument("--out", type=Path, required=True)
    g.add_argument("--org-file", type=Path, default=None)
    g.add_argument("--clean", action="store_true", help="no dirty data")
    g.add_argument("--dirty", action="append", default=[], metavar="KEY=RATE")
    g.add_argument("--workers", type=int, default=None)

    x = sub.add_parser("export-xlsx", help="monthly XLSX exports with Chinese headers")
    x.add_argument("--data", type=Path, required=True)
    x.add_argument("--month", required=True, help="YYYY-MM")
    x.add_argument("--out", type=Path, required=True)
    x.add_argument("--entity", action="append", default=None)

    s = sub.add_parser("serve", help="serve the change feed over HTTP")
    s.add_argument("--data", type=Path, required=True)
    s.add_argument("--port", type=int, default=8765)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument(
        "--token",
        default=os.environ.get("PLATFORM_API_TOKEN"),
        help="bearer token clients must send (default: $PLATFORM_API_TOKEN, kept out of `ps`)",
    )
    s.add_argument("--as-of", default=None, help="serve records updated up to this date")
    s.add_argument("--fault-rate-5xx", type=float, default=0.0)
    s.add_argument("--fault-rate-timeout", type=float, default=0.0)
    s.add_argument("--fault-rate-truncate", type=float, default=0.0)
    s.add_argument("--fault-timeout-seconds", type=float, default=30.0)
    s.add_argument("--fault-seed", type=int, default=0)
    s.add_argument("--rate-limit-per-second", type=float, default=None)
    s.add_argument("--verbose", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "generate":
        from phwarehouse.platform.generate import GenerateConfig, generate

        dirty = DirtyConfig.clean() if args.clean else DirtyConfig()
        dirty = dirty.with_overrides(_dirty_overrides(args.dirty))
        manifest = generate(
            GenerateConfig(
                seed=args.seed,
                residents=args.residents,
                start_year=args.start_year,
                as_of=args.as_of,
                out=args.out,
                org_file=args.org_file,
                dirty=dirty,
                workers=args.workers,
            )
        )
        summary = {e: v["lines"] for e, v in manifest["entities"].items()}
        print(
            json.dumps(
                {"out": str(args.out), "as_of": manifest["as_of"], "lines": summary},
                ensure_ascii=False,
            )
        )
        return 0
    if args.command == "export-xlsx":
        from phwarehouse.platform.xlsx_export import export_month

        for path in export_month(args.data, args.month, args.out, args.entity):
            print(path)
        return 0
    if args.command == "serve":
        if not args.token:
            parser.error("serve needs --token or $PLATFORM_API_TOKEN")
        from phwarehouse.platform.server import FaultConfig, make_server

        server = make_server(
            args.data,
            args.token,
            port=args.port,
            host=args.host,
            as_of=args.as_of,
            faults=FaultConfig(
                args.fault_rate_5xx,
                args.fault_rate_timeout,
                args.fault_rate_truncate,
                args.fault_timeout_seconds,
                args.fault_seed,
            ),
            rate_limit=args.rate_limit_per_second,
            verbose=args.verbose,
        )
        host, port = server.server_address[:2]
        print(
            f"serving {args.data} on http://{host}:{port} (as-of {server.as_of})",
            file=sys.stderr,
            flush=True,
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
        return 0
    return 2
