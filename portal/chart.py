"""A bar chart of publications per year, as plain geometry for a server-drawn SVG."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 480
HEIGHT = 200
TOP = 22  # room for the count above the tallest bar
BOTTOM = 26  # room for the year labels
MAX_LABELS = 8
DIGIT_WIDTH = 12  # of a digit in the chart's 20-unit font (see portal.css)
SIDE = 22  # room for the first and last year labels, which are centred under their bars


@dataclass(frozen=True)
class Bar:
    year: int
    count: int
    x: float
    y: float
    width: float
    height: float
    labelled: bool  # whether the year is written under this bar (long ranges thin labels out)


@dataclass(frozen=True)
class YearChart:
    bars: list[Bar]
    width: int
    height: int
    baseline: float
    total: int
    show_counts: bool  # counts are written above bars only when the widest one fits its bar

    @property
    def first(self) -> int:
        return self.bars[0].year

    @property
    def last(self) -> int:
        return self.bars[-1].year

    @property
    def busiest(self) -> Bar:
        return max(self.bars, key=lambda b: (b.count, b.year))


def year_chart(counts: Sequence[tuple[int, int]]) -> YearChart | None:
    """Bars for (year, count) pairs, filling the years between with zero; None when empty."""
    if not counts:
        return None
    by_year = dict(counts)
    first, last = min(by_year), max(by_year)
    years = list(range(first, last + 1))
    tallest = max(by_year.values()) or 1
    slot = (WIDTH - 2 * SIDE) / len(years)
    gap = min(6.0, slot * 0.2)
    plot = HEIGHT - TOP - BOTTOM
    step = -(-len(years) // MAX_LABELS)  # label every step-th year, always the last one
    bars = []
    for i, year in enumerate(years):
        n = by_year.get(year, 0)
        h = round(plot * n / tallest, 1)
        bars.append(
            Bar(
                year=year,
                count=n,
                x=round(SIDE + i * slot + gap / 2, 1),
                y=round(TOP + plot - h, 1),
                width=round(slot - gap, 1),
                height=h,
                labelled=(len(years) - 1 - i) % step == 0,
            )
        )
    fits = slot >= DIGIT_WIDTH * len(str(tallest)) + 4
    return YearChart(bars, WIDTH, HEIGHT, TOP + plot, sum(by_year.values()), fits)
