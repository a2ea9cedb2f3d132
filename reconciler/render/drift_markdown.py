"""The drift report as Markdown, for an issue or a pull request, rendered from its JSON form."""

from __future__ import annotations

from typing import Any

from reconciler.drift.model import Drift
from reconciler.redact import scrub
from reconciler.render import safe
from reconciler.render.drift_json import ORIGIN_WORDS, drift_to_dict
from reconciler.render.drift_text import summary_line
from reconciler.render.markdown import environment


def md_strict(value: Any) -> str:
    """As the plan's md filter, and the stars of masked values escaped too: the report masks
    field values as ``***``, which could otherwise pair with a mask's stars."""
    return safe.markdown(value, masks=False)


def render_markdown(drift: Drift, *, redact: bool = True) -> str:
    data = drift_to_dict(drift, redact=redact)
    env = environment()
    env.filters["md"] = md_strict
    template = env.get_template("drift.md.j2")
    return scrub(
        template.render(report=data, summary=summary_line(drift), origin_words=ORIGIN_WORDS)
    )
