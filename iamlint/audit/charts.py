"""Inline SVG charts for the HTML report: drawn here, so the page needs no script to show them.

Horizontal bar charts, plain or stacked, with the label left of each bar and the total right of
it; every bar has a <title> so hovering shows the exact figures. Text is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

SEVERITY_COLORS = {
    "critical": "#7b1fa2",
    "high": "#c62828",
    "medium": "#ef6c00",
    "low": "#1565c0",
    "info": "#78909c",
}
USED = "#43a047"
UNUSED = "#e53935"
NEUTRAL = "#5c6bc0"


@dataclass(frozen=True, slots=True)
class Segment:
    value: float
    color: str
    name: str  # shown in the tooltip


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    segments: tuple[Segment, ...]
    note: str = ""  # right of the bar; the total when empty
    href: str = ""


def _fmt(value: float) -> str:
    return f"{value:,.0f}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def bars(
    title: str,
    items: Sequence[Bar],
    *,
    width: int = 620,
    label_width: int = 190,
    empty: str = "nothing to show",
    legend: Sequence[tuple[str, str]] = (),
    note_width: int = 70,
) -> str:
    """A horizontal (stacked) bar chart as an <svg> element with a title and optional legend."""
    row, top = 24, 30 if legend else 8
    height = top + max(1, len(items)) * row + 8
    plot = width - label_width - note_width
    biggest = max((sum(s.value for s in b.segments) for b in items), default=0) or 1
    parts = [
        (
            f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        )
    ]
    x = label_width
    for name, color in legend:
        parts.append(
            f'<rect x="{x}" y="8" width="11" height="11" rx="2" fill="{color}"/>'
            f'<text x="{x + 15}" y="18" class="legend">{escape(name)}</text>'
        )
        x += 28 + 7 * len(name)
    if not items:
        parts.append(f'<text x="{label_width}" y="{top + 16}" class="empty">{escape(empty)}</text>')
    for i, item in enumerate(items):
        y = top + i * row
        total = sum(s.value for s in item.segments)
        label = (
            f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end" class="label">{escape(_clip(item.label, label_width // 7))}'
            f"<title>{escape(item.label)}</title></text>"
        )
        if item.href:
            label = f'<a href="{escape(item.href)}">{label}</a>'
        parts.append(label)
        x0 = float(label_width)
        for seg in item.segments:
            if seg.value <= 0:
                continue
            w = max(1.5, plot * seg.value / biggest)
            parts.append(
                f'<rect x="{x0:.1f}" y="{y + 4}" width="{w:.1f}" height="{row - 9}" fill="{seg.color}">'
                f"<title>{escape(item.label)}: {_fmt(seg.value)} {escape(seg.name)}</title></rect>"
            )
            x0 += w
        parts.append(f'<text x="{x0 + 6:.1f}" y="{y + 15}" class="value">{escape(item.note or _fmt(total))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def severity_chart(counts: dict[str, int]) -> str:
    items = [Bar(label, (Segment(n, SEVERITY_COLORS[label], "findings"),)) for label, n in counts.items()]
    return bars("Findings by severity", items, label_width=90, width=420)


def category_chart(counts: dict[str, int]) -> str:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:12]
    items = [Bar(name, (Segment(n, NEUTRAL, "findings"),)) for name, n in ranked]
    return bars("Findings by category", items, label_width=170, width=520, empty="no findings")


def principals_chart(rows: Sequence[tuple[str, dict[str, int], int]]) -> str:
    """Riskiest principals: (label, findings per severity, score), stacked by severity."""
    items = [
        Bar(
            label,
            tuple(Segment(n, SEVERITY_COLORS[sev], f"{sev} findings") for sev, n in counts.items()),
            note=f"score {score}",
        )
        for label, counts, score in rows
    ]
    legend = [(sev, color) for sev, color in SEVERITY_COLORS.items()]
    return bars("Riskiest principals", items, legend=legend, label_width=250, empty="no principal has findings")


def unused_chart(rows: Sequence[tuple[str, int, int, int]]) -> str:
    """Unused access: (label, used services, unused services, unused tracked actions)."""
    items = [
        Bar(
            label,
            (Segment(used, USED, "services used"), Segment(unused, UNUSED, "services never used")),
            note=f"{unused} of {used + unused}"
            + (f" + {actions} action{'s' if actions != 1 else ''}" if actions else ""),
        )
        for label, used, unused, actions in rows
    ]
    return bars(
        "Unused access per principal",
        items,
        legend=[("services used", USED), ("never used", UNUSED)],
        label_width=250,
        note_width=120,
        empty="no Access Advisor data, or every granted service was used",
    )
