"""Inline SVG charts of the published dashboard: one XmR chart per measure, drawn in Python.

Belongs here: turning a PublishedSeries (already disclosure-controlled) into an SVG element: the
monthly points and line, the centre line and the limits, signal points, suppressed (`*`) and
uncovered months. No scripts, no external fonts or images: generic font families only.
Does not: any figure or statistic (publish.py, xmr.py), the page around it (render.py).
"""

import math
from html import escape

from cb_pipeline.dashboard.publish import PublishedSeries

WIDTH, HEIGHT = 720, 250
LEFT, RIGHT, TOP, BOTTOM = 60, 16, 16, 44
COLOURS = {"line": "#005eb8", "point": "#005eb8", "signal": "#d5281b", "mean": "#007f3b", "limit": "#d5281b",
           "grid": "#e8edee", "axis": "#425563", "text": "#212b32"}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def nice_ticks(top: float, target: int = 5) -> list[float]:
    """0 and round steps (1, 2 or 5 x 10^k) up to at least `top`."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / target
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    count = int(math.ceil(top / step - 1e-9))
    return [i * step for i in range(count + 1)]


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def xmr_svg(series: PublishedSeries, *, measure_id: str, title: str) -> str:
    points = series.points
    values = [_number(p.value) for p in points]
    lines = {name: _number(v) for name, v in (("mean", series.mean), ("upper", series.upper), ("lower", series.lower))}
    top = max([v for v in values if v is not None] + [v for v in lines.values() if v is not None] + [1.0])
    ticks = nice_ticks(top * 1.05)
    y_max = ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(points), 1)

    def x(i: int) -> float:
        return LEFT + plot_w * (i + 0.5) / n

    def y(v: float) -> float:
        return TOP + plot_h * (1 - max(0.0, min(v, y_max)) / y_max)

    ident = f"chart-{escape(measure_id)}"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="xmr-chart" data-measure="{escape(measure_id)}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="{ident}-title" '
        f'font-family="Arial, Helvetica, sans-serif" font-size="11">',
        f'<title id="{ident}-title">{escape(title)}: monthly counts with XmR centre line and limits</title>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
    ]
    for t in ticks:
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="{COLOURS["grid"]}"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y(t) + 4:.1f}" text-anchor="end" fill="{COLOURS["text"]}">{_fmt(t)}</text>')
    out.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}" stroke="{COLOURS["axis"]}"/>')
    out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" stroke="{COLOURS["axis"]}"/>')
    for i, p in enumerate(points):
        if p.month.month in (1, 4, 7, 10):
            out.append(f'<text x="{x(i):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle" fill="{COLOURS["text"]}">'
                       f'{p.month:%b %y}</text>')
    for name, dash, colour, label in (("mean", "", COLOURS["mean"], "mean"), ("upper", "6 4", COLOURS["limit"], "upper limit"),
                                      ("lower", "6 4", COLOURS["limit"], "lower limit")):
        v = lines[name]
        if v is None or v < 0 or v > y_max:
            continue
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<line class="xmr-{name}" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                   f'stroke="{colour}" stroke-width="1.5"{dash_attr}><title>{label} {escape(_fmt(v))}</title></line>')
    run: list[str] = []
    segments = []
    for i, v in enumerate(values):
        if v is None:
            if len(run) > 1:
                segments.append(run)
            run = []
        else:
            run.append(f"{x(i):.1f},{y(v):.1f}")
    if len(run) > 1:
        segments.append(run)
    for seg in segments:
        out.append(f'<polyline class="xmr-line" fill="none" stroke="{COLOURS["line"]}" stroke-width="2" points="{" ".join(seg)}"/>')
    for i, (p, v) in enumerate(zip(points, values)):
        label = f"{p.month:%b %Y}: "
        if v is not None:
            signal = bool(p.signal) and p.signal != "*"
            colour = COLOURS["signal"] if signal else COLOURS["point"]
            cls = "xmr-point xmr-signal" if signal else "xmr-point"
            tip = label + p.value + (f" (signal: {p.signal})" if signal else "")
            out.append(f'<circle class="{cls}" cx="{x(i):.1f}" cy="{y(v):.1f}" r="{5 if signal else 3.5}" '
                       f'fill="{colour}"><title>{escape(tip)}</title></circle>')
        elif p.value == "*":
            out.append(f'<text class="xmr-suppressed" x="{x(i):.1f}" y="{TOP + plot_h - 4}" text-anchor="middle" '
                       f'fill="{COLOURS["axis"]}" font-size="14"><title>{escape(label)}1-7 (suppressed)</title>*</text>')
    if not any(v is not None or p.value == "*" for p, v in zip(points, values)):
        out.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" '
                   f'fill="{COLOURS["axis"]}">No monthly figures: the feed does not cover these months</text>')
    out.append("</svg>")
    return "\n".join(out)
