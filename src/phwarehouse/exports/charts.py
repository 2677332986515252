"""Charts for the PDF (matplotlib, Agg, Noto Sans CJK SC): facility bars against the target and
序时进度 lines, and the monthly trend of the key indicators. Returned as PNG bytes."""

from __future__ import annotations

import io
from decimal import Decimal

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import font_manager

from phwarehouse.exports.data import Row

CJK_FONT = "Noto Sans CJK SC"
STATUS_COLOUR = {"met": "#4caf50", "not_met": "#e53935"}  # no appraisal target: grey
DPI = 150


def _font() -> None:
    names = {f.name for f in font_manager.fontManager.ttflist}
    if CJK_FONT not in names:
        raise RuntimeError(f"font {CJK_FONT!r} not found: install Debian's fonts-noto-cjk")
    plt.rcParams["font.family"] = CJK_FONT
    plt.rcParams["axes.unicode_minus"] = False


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _f(v: Decimal | None) -> float | None:
    return None if v is None else float(v)


def _short(name: str) -> str:
    for suffix in ("社区卫生服务中心", "卫生院", "社区卫生服务站"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def facility_bars(rows: list[Row], indicators: list[Row]) -> bytes | None:
    """Small multiples, one per indicator (up to 4): facility values as bars, the target as a
    red dashed line, 序时进度 as an orange dotted line; bars below the line are red."""
    _font()
    panels = []
    for ind in indicators:
        fac = [
            r
            for r in rows
            if r["indicator_code"] == ind["indicator_code"] and r["org_level"] == "facility"
        ]
        if fac:
            panels.append((ind, fac))
    panels = panels[:4]
    if not panels:
        return None
    cols = 2 if len(panels) > 1 else 1
    nrows = (len(panels) + 1) // 2
    fig, axes = plt.subplots(nrows, cols, figsize=(9.0, 2.2 * nrows), squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    for ax, (ind, fac) in zip(axes.flat, panels, strict=False):
        names = [_short(r["org_unit_name"]) for r in fac]
        values = [_f(r["value"]) or 0.0 for r in fac]
        target = _f(fac[0]["target_value"])
        expected = _f(fac[0]["expected_to_date"])
        colours = [STATUS_COLOUR.get(r["status"], "#9e9e9e") for r in fac]
        ax.bar(range(len(values)), values, color=colours)
        if target is not None:
            ax.axhline(
                target, color="#c62828", linestyle="--", linewidth=1, label=f"目标 {target:g}"
            )
        if expected is not None:
            ax.axhline(
                expected,
                color="#ef6c00",
                linestyle=":",
                linewidth=1.2,
                label=f"序时进度 {expected:.1f}",
            )
        ax.set_title(f"{ind['name_zh']}（{ind['unit']}）", fontsize=9)
        ax.set_xticks(range(len(names)), names, rotation=40, ha="right", fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        for x, v in enumerate(values):
            ax.text(x, v, f"{v:.1f}", ha="center", va="bottom", fontsize=6)
        ax.set_ylim(0, max([*values, target or 0, expected or 0, 1]) * 1.35)
        if target is not None or expected is not None:
            ax.legend(fontsize=6, loc="upper right", framealpha=0.9)
    fig.tight_layout()
    return _png(fig)


def trend(rows: list[Row], indicators: list[Row]) -> bytes | None:
    """Monthly year-to-date trend of the district for the given indicators (one line each)."""
    _font()
    fig, ax = plt.subplots(figsize=(7.2, 3.4))
    drawn = 0
    for ind in indicators:
        pts = sorted(
            (r["period_key"], _f(r["value"]))
            for r in rows
            if r["indicator_code"] == ind["indicator_code"] and r["org_level"] == "district"
        )
        pts = [(k, v) for k, v in pts if v is not None]
        if not pts:
            continue
        ax.plot(
            [int(k[-2:]) for k, _ in pts],
            [v for _, v in pts],
            marker="o",
            markersize=3,
            linewidth=1.4,
            label=ind["name_zh"],
        )
        drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("月份（当年累计）", fontsize=8)
    ax.set_ylabel("%", fontsize=8)
    ax.set_xticks(range(1, 13))
    ax.set_xlim(0.5, 12.5)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    fig.tight_layout()
    return _png(fig)
