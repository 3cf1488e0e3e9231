"""The figures the reliability benchmarks print: megabytes, percentiles, a plain table."""

from __future__ import annotations

from typing import Any

MB = 1024 * 1024


def mb(value: float) -> float:
    return round(value / MB, 1)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def print_table(columns: list[tuple[str, str]], rows: list[dict[str, Any]]) -> None:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.1f}"
        return "-" if value is None else str(value)

    print(" | ".join(title for title, _ in columns))
    for row in rows:
        print(" | ".join(cell(row.get(key)) for _, key in columns))
