"""The plan as Markdown for pull-request comments, through a jinja2 template: a summary table
(list × action), then per list collapsible ``<details>`` blocks of sample rows with the reason
of each change. Addresses are masked by default, in the address column and wherever one
appears in free text (a reason, a consent reference, a field value). Every data value goes
through ``render.safe.markdown``, which makes it inert text (``specs/markdown.md``): no
mention, link, image, HTML or broken table can come from a row.

``render.comments`` splits the result into comments that fit GitHub's size limit.
"""

from __future__ import annotations

import re
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from reconciler.address import mask
from reconciler.model import KIND_ORDER
from reconciler.plan.jsonform import change_to_dict, guard_to_dict, list_to_dict
from reconciler.plan.model import Plan
from reconciler.redact import scrub
from reconciler.render import safe
from reconciler.render.text import summary_line

SAMPLE = 20

# Addresses inside free text: a plainer local part than address.EMAIL_PATTERN's, which also
# allows ' and = and would swallow the "name='" before an address in "name='ann@…'". A match
# starts only where a run of local-part characters starts, and takes the run whole
# (possessive): tried at every position of a long run without an "@", the search cost the
# square of the run's length (a 120 KiB field value took 9 s to render).
_ADDRESS_IN_TEXT = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]++"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


def mask_text(text: str) -> str:
    """Every address in ``text`` masked as ``j***@example.com``."""
    return _ADDRESS_IN_TEXT.sub(lambda m: mask(m.group()), text)


def md_escape(value: Any) -> str:
    """A data value as inert Markdown, safe inside a table cell (``render.safe.markdown``)."""
    return safe.markdown(value)


def code_escape(value: Any) -> str:
    return safe.code_span_text(value)


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("reconciler.render", "templates"),
        autoescape=False,  # Markdown, not HTML: every value goes through the md filter
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md_escape
    env.filters["code"] = code_escape
    return env


def _detail(row: dict[str, Any]) -> str:
    if row["kind"] == "update":
        return ", ".join(
            f"{k}: {row['previous'].get(k)!r} → {v!r}" for k, v in row["fields"].items()
        )
    return ", ".join(f"{k}={v!r}" for k, v in row["fields"].items())


def _unaddressable(data: dict[str, Any], redact: bool, sample: int | None) -> dict[str, Any]:
    """The vendor's rows no batch can name, for the template: their count, the sample shown and
    how many rows it leaves out. Each value is masked as an address (``j***@…``, or ``***``
    for one without an ``@``: a name in the address column is no less personal); an empty
    one stays empty, as there is nothing to hide and it is the common case."""
    values = data["sample"] if sample is None else data["sample"][:sample]
    shown = [mask(v) if redact and v else v for v in values]
    return {"rows": data["rows"], "sample": shown, "more": max(data["rows"] - len(shown), 0)}


def render_markdown(plan: Plan, *, redact: bool = True, sample: int | None = SAMPLE) -> str:
    """``sample``: rows shown per list and kind; ``None`` shows every row."""
    hide = mask_text if redact else str
    kinds = [k.value for k in KIND_ORDER]
    lists = []
    for list_plan in plan.lists:
        # The list's JSON form without its rows (a plan may hold millions); the sampled rows
        # are converted alone, by the same function.
        data = list_to_dict(list_plan, rows_sink=lambda _lp: "")
        samples: dict[str, list[dict[str, str]]] = {}
        for kind in KIND_ORDER:
            shown = list_plan.changes.head(kind, sample)
            samples[kind.value] = [
                {
                    "email": mask(row["email"]) if redact else row["email"],
                    "detail": hide(_detail(row)),
                    "reason": hide(row["reason"]),
                }
                for row in map(change_to_dict, shown)
            ]
        data["samples"] = samples
        if data["current"]:
            data["current"]["location"] = hide(data["current"]["location"])
        data["skipped_invalid"] = [hide(s) for s in data["skipped_invalid"]]
        if data["unaddressable"]:
            data["unaddressable"] = _unaddressable(data["unaddressable"], redact, sample)
        if data["not_owned"]:
            kept = data["not_owned"]
            shown = kept["sample"] if sample is None else kept["sample"][:sample]
            kept["sample"] = [mask(v) if redact else v for v in shown]
            kept["more"] = max(kept["members"] - len(shown), 0)
        lists.append(data)
    table = [
        "| list | vendor | " + " | ".join(kinds) + " |",
        "| --- | --- | " + " | ".join("---:" for _ in kinds) + " |",
        *(
            f"| {md_escape(lp['name'])} | {md_escape(lp['vendor'])} | "
            + " | ".join(f"{lp['changes'][k]:,}" for k in kinds)
            + " |"
            for lp in lists
        ),
    ]
    template = environment().get_template("plan.md.j2")
    # Each value was scrubbed by its filter; the whole text is too, in case one was missed.
    return scrub(
        template.render(
            summary=summary_line(plan),
            kinds=kinds,
            lists=lists,
            table=table,
            guards=[guard_to_dict(v) for v in plan.guards],
        )
    )
