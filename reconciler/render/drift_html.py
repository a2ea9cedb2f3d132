"""The drift report as one self-contained HTML page (inline CSS, CSS bar charts, no script and
no external asset), rendered from its JSON form with every value escaped by jinja2, after
``render.safe.html_value`` has scrubbed it and shown its control characters as escapes."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from reconciler.drift.model import Drift
from reconciler.redact import scrub
from reconciler.render import safe
from reconciler.render.drift_json import ORIGIN_WORDS, drift_to_dict
from reconciler.render.drift_text import summary_line

PART_LABELS: dict[str, str] = {
    "changes": "to apply",
    "absorb": "to absorb",
    "fields": "field drift",
    "pending": "pending",
}


def bar_width(n: int, largest: int) -> str:
    """A bar's width as a CSS percentage; any non-zero count stays visible."""
    if n <= 0 or largest <= 0:
        return "0%"
    return f"{max(100.0 * n / largest, 2.0):.1f}%"


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("reconciler.render", "templates"),
        autoescape=True,
        finalize=safe.html_value,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["n"] = lambda value: f"{value:,}"
    env.globals["bar_width"] = bar_width
    return env


def _largest(data: dict[str, Any]) -> int:
    """The largest per-list count: the summary's bars share one scale."""
    return max((n for lp in data["lists"] for n in lp["counts"].values()), default=0)


def render_html(drift: Drift, *, redact: bool = True) -> str:
    data = drift_to_dict(drift, redact=redact)
    template = environment().get_template("drift.html.j2")
    return scrub(
        template.render(
            report=data,
            summary=summary_line(drift),
            labels=PART_LABELS,
            largest=_largest(data),
            origin_words=ORIGIN_WORDS,
        )
    )
