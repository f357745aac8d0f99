"""The status report's pictures, drawn in memory: the hours burn-down as a PNG.

matplotlib's object API (a `Figure`, no pyplot) keeps no global state, so runs drawing at once in
one worker do not share a figure; the Agg canvas needs no display. The PNG carries no software
version or date: the same figures draw the same bytes, week after week and release after release.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from io import BytesIO

from engagement.execute import BurnPoint

SIZE = (8, 4)  # inches, at 100 dpi: 800 x 400 pixels, readable in an e-mail
IDEAL, ACTUAL = "#9e9e9e", "#1565c0"


def burn_down_png(points: Sequence[BurnPoint], scoped: Decimal, title: str) -> bytes:
    """The hours left at the end of each week so far, against the ideal line to zero.

    Example:
        >>> from datetime import date
        >>> png = burn_down_png([BurnPoint(week="2027-W01", ends=date(2027, 1, 10),
        ...                                remaining=Decimal(50), ideal=Decimal(40))],
        ...                     Decimal(80), "Acme – Migration")
        >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
        True
    """
    from matplotlib.figure import Figure  # loaded when a report is drawn: ~0.3 s

    figure = Figure(figsize=SIZE, dpi=100, layout="constrained")
    axes = figure.subplots()
    weeks = [point.week.split("-")[1] for point in points]  # "W03": the year is in the title
    axes.plot(weeks, [float(p.ideal) for p in points], "--", color=IDEAL, label="ideal")
    done = [
        (week, float(p.remaining))
        for week, p in zip(weeks, points, strict=True)
        if p.remaining is not None
    ]
    if done:
        axes.plot(*zip(*done, strict=True), "o-", color=ACTUAL, label="hours left")
        week, left = done[-1]
        axes.annotate(f"{left:g} h", (week, left), textcoords="offset points", xytext=(6, 6))
    lowest = min([0.0, *(left for _, left in done)])  # none yet in an engagement's first days
    axes.set_ylim(bottom=lowest, top=float(scoped) * 1.05 or 1)
    axes.set_title(f"Hours burn-down: {title}")
    axes.set_ylabel(f"hours left of {scoped.normalize():f}")
    axes.grid(axis="y", alpha=0.3)
    axes.legend(loc="upper right")
    out = BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


def estimate_png(
    estimated: Mapping[str, Decimal], actual: Mapping[str, Decimal], title: str
) -> bytes:
    """Estimated against actual hours, a pair of bars per activity (the closeout report's).

    Example:
        >>> png = estimate_png({"PS-A": Decimal(10)}, {"PS-A": Decimal(12)}, "Acme")
        >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
        True
    """
    from matplotlib.figure import Figure

    codes = list(dict.fromkeys([*estimated, *actual]))
    figure = Figure(figsize=SIZE, dpi=100, layout="constrained")
    axes = figure.subplots()
    at = range(len(codes))
    axes.bar(
        [x - 0.2 for x in at],
        [float(estimated.get(c, 0)) for c in codes],
        0.4,
        color=IDEAL,
        label="estimated",
    )
    axes.bar(
        [x + 0.2 for x in at],
        [float(actual.get(c, 0)) for c in codes],
        0.4,
        color=ACTUAL,
        label="actual",
    )
    axes.set_xticks(list(at), codes)
    axes.set_title(f"Estimated vs actual hours: {title}")
    axes.set_ylabel("hours")
    axes.grid(axis="y", alpha=0.3)
    axes.legend(loc="upper right")
    out = BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()
