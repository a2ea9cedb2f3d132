"""The plan as Markdown through jinja2 templates, with addresses masked by default."""

from __future__ import annotations

import html
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from reconciler.address import mask
from reconciler.model import KIND_ORDER
from reconciler.plan.jsonform import plan_to_dict
from reconciler.plan.model import Plan
from reconciler.render.text import summary_line

SAMPLE = 20


def md_escape(value: Any) -> str:
    """Safe inside a Markdown table cell: HTML escaped, pipes and newlines neutralised."""
    text = html.escape(str(value if value is not None else ""), quote=False)
    return text.replace("|", "\\|").replace("\n", " ").replace("`", "\\`")


def code_escape(value: Any) -> str:
    return str(value).replace("`", "'")


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


def render_markdown(plan: Plan, *, redact: bool = True, sample: int = SAMPLE) -> str:
    data = plan_to_dict(plan)
    kinds = [k.value for k in KIND_ORDER]
    for lp in data["lists"]:
        samples: dict[str, list[dict[str, str]]] = {k: [] for k in kinds}
        for row in lp.get("rows", []):
            bucket = samples[row["kind"]]
            if len(bucket) < sample:
                bucket.append(
                    {
                        "email": mask(row["email"]) if redact else row["email"],
                        "detail": _detail(row),
                        "reason": row["reason"],
                    }
                )
        lp["samples"] = samples
    table = [
        "| list | vendor | " + " | ".join(kinds) + " |",
        "| --- | --- | " + " | ".join("---:" for _ in kinds) + " |",
        *(
            f"| {md_escape(lp['name'])} | {md_escape(lp['vendor'])} | "
            + " | ".join(f"{lp['changes'][k]:,}" for k in kinds)
            + " |"
            for lp in data["lists"]
        ),
    ]
    template = environment().get_template("plan.md.j2")
    return template.render(
        summary=summary_line(plan),
        kinds=kinds,
        lists=data["lists"],
        table=table,
        guards=data["guards"],
    )
