"""Vectorised date helpers. Dates are int64 day numbers since 1970-01-01; timestamps are int64
seconds since the epoch (UTC). ``NO_DAY`` marks a missing date."""

from __future__ import annotations

import datetime as dt

import numpy as np

NO_DAY = 10_000_000  # far beyond any real date; formats as null
DAY_SECONDS = 86_400


def day_of(value: str | dt.date) -> int:
    """Day number of an ISO date string or ``date``."""
    return int(np.datetime64(str(value)[:10], "D").astype(np.int64))


def year_start(year: int) -> int:
    return day_of(f"{year:04d}-01-01")


def to_date(day: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(day))


def fmt_days(days: np.ndarray) -> list[str | None]:
    """ISO dates (``None`` for ``NO_DAY``)."""
    arr = np.asarray(days, dtype=np.int64)
    missing = arr >= NO_DAY
    out = np.datetime_as_string(np.where(missing, 0, arr).astype("datetime64[D]")).tolist()
    for i in np.flatnonzero(missing):
        out[i] = None
    return out


def fmt_seconds(secs: np.ndarray) -> list[str]:
    """ISO 8601 UTC timestamps like ``2026-11-22T08:15:03Z``."""
    arr = np.asarray(secs, dtype=np.int64).astype("datetime64[s]")
    return [s + "Z" for s in np.datetime_as_string(arr).tolist()]


def parse_timestamp(value: str) -> int:
    """Epoch seconds of an ISO date or timestamp (naive values are UTC)."""
    text = value.strip().replace(" ", "T")
    if len(text) == 10:
        return day_of(text) * DAY_SECONDS
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp())


def fmt_timestamp(secs: int) -> str:
    return fmt_seconds(np.array([secs]))[0]


def ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month (1-12) and day-of-month arrays."""
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    months = d.astype("datetime64[M]")
    years = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    dom = (d - months.astype("datetime64[D]")).astype(np.int64) + 1
    return years, month, dom


def add_months(days: np.ndarray, months: np.ndarray | int) -> np.ndarray:
    """Calendar-month addition (day of month clipped to the target month's length)."""
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    start = d.astype("datetime64[M]")
    dom = (d - start.astype("datetime64[D]")).astype(np.int64)
    target = start + np.asarray(months, dtype=np.int64)
    target_start = target.astype("datetime64[D]").astype(np.int64)
    length = (target + 1).astype("datetime64[D]").astype(np.int64) - target_start
    return target_start + np.minimum(dom, length - 1)


def month_table(year: int) -> tuple[np.ndarray, np.ndarray]:
    """First day and length of each month of ``year``."""
    starts = np.arange(f"{year:04d}-01", f"{year + 1:04d}-02", dtype="datetime64[M]")
    days = starts.astype("datetime64[D]").astype(np.int64)
    return days[:12], np.diff(days)


def sample_days_in_months(rng: np.random.Generator, year: int, months: np.ndarray) -> np.ndarray:
    """A uniform day inside each given month (0-11) of ``year``."""
    first, length = month_table(year)
    return first[months] + (rng.random(len(months)) * length[months]).astype(np.int64)


def sample_months(rng: np.random.Generator, n: int, weights: np.ndarray) -> np.ndarray:
    """Month indexes 0-11 drawn with the given (unnormalised) weights."""
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(p), size=n, p=p / p.sum())


def age_years(birth: np.ndarray, at: np.ndarray | int) -> np.ndarray:
    """Completed years of age at day ``at``."""
    by, bm, bd = ymd(birth)
    at_arr = np.broadcast_to(np.asarray(at, dtype=np.int64), np.shape(birth))
    ay, am, ad = ymd(at_arr)
    return ay - by - ((am < bm) | ((am == bm) & (ad < bd))).astype(np.int64)


def age_months(birth: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Completed calendar months of age."""
    by, bm, bd = ymd(birth)
    ay, am, ad = ymd(at)
    return (ay - by) * 12 + (am - bm) - (ad < bd).astype(np.int64)
