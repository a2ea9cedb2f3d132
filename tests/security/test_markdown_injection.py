"""Hostile data in the Markdown posted to pull requests renders as inert text.

A cell (an address, a field, a reason, a consent text, a list ID, a vendor's value or message)
must not mention anyone, link, load an image (a tracking pixel), inject HTML, reference an
issue, or break out of its table cell or row. The rule is ``render.safe.markdown``, described
in ``specs/markdown.md``; these tests assert the exact Markdown it gives. The HTML drift report
autoescapes every value.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.drift.compute import compute_drift
from reconciler.model import ChangeKind, DropAction, ListMode
from reconciler.plan.model import CurrentStateRef, ListChange, ListPlan, Plan
from reconciler.render import drift_html, drift_markdown
from reconciler.render.comments import split_comments
from reconciler.render.markdown import render_markdown
from reconciler.render.safe import ZWSP, markdown
from tests.reliability.harness import FaultProject
from tests.unit.test_comments import details_balanced, tables

NOW = datetime(2026, 11, 23, 3, 20, tzinfo=UTC)
Z = ZWSP


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        # mentions: an @ that is not an address's gets a zero-width space after it
        ("@octocat", f"@{Z}octocat"),
        ("cc @octocat.", f"cc @{Z}octocat."),
        ("(@octocat)", f"(@{Z}octocat)"),
        ("@acme/security-team", f"@{Z}acme/security-team"),
        ("x@octocat", f"x@{Z}octocat"),
        (" @octocat.com", f" @{Z}octocat.com"),
        # addresses are left as they are, masked or not
        ("ann@example.com", "ann@example.com"),
        ("a***@example.com", "a***@example.com"),
        (
            "mail from d***@example.com to s***@example.com",
            "mail from d***@example.com to s***@example.com",
        ),
        # links, images, autolinks, HTML
        ("[click](https://evil.example/)", f"\\[click\\](https:{Z}//evil.example/)"),
        ("![p](https://t.example/p.png)", f"!\\[p\\](https:{Z}//t.example/p.png)"),
        ("[x][1] [^1]", "\\[x\\]\\[1\\] \\[^1\\]"),
        ("https://evil.example/p.png", f"https:{Z}//evil.example/p.png"),
        ("www.evil.example", f"www{Z}.evil.example"),
        ("<https://evil.example>", f"&lt;https:{Z}//evil.example&gt;"),
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
        ("<!-- hidden -->", "&lt;!-- hidden --&gt;"),
        ("&#64;octocat &amp;", f"&amp;#{Z}64;octocat &amp;amp;"),
        # the table: a pipe, a line feed, a backtick cannot end the cell, the row or open code
        ("a | b", "a \\| b"),
        ("line\n| forged | row |", "line\\n\\| forged \\| row \\|"),
        ("`code` ``more``", "\\`code\\` \\`\\`more\\`\\`"),
        # emphasis, strikethrough, math
        ("**bold** *it* _em_ __strong__", "\\*\\*bold\\*\\* \\*it\\* \\_em\\_ \\_\\_strong\\_\\_"),
        ("~~gone~~ $x^2$", "\\~\\~gone\\~\\~ \\$x^2\\$"),
        ("first_name snake_case_", "first_name snake_case\\_"),
        ("_***@example.com", "\\_\\*\\*\\*@example.com"),
        # issue references
        ("ticket #12, acme/web#34, GH-56", f"ticket #{Z}12, acme/web#{Z}34, GH{Z}-56"),
        # a backslash cannot cancel an escape
        ("\\[x\\](https://e.example)", f"\\\\\\[x\\\\\\](https:{Z}//e.example)"),
        # controls, as on the terminal
        ("\x1b[2J\u202e", "\\x1b\\[2J\\u202e"),
        # ordinary text is unchanged
        ("m.csv:2", "m.csv:2"),
        (
            "not declared (authoritative list, drop action: remove)",
            "not declared (authoritative list, drop action: remove)",
        ),
        (
            "5 of 5 active members (100%) would be removed",
            "5 of 5 active members (100%) would be removed",
        ),
        (
            "first_name='Zoë', referrer='A***@Example.com'",
            "first_name='Zoë', referrer='A***@Example.com'",
        ),
    ],
)
def test_each_markdown_construct_is_neutralised(raw: str, shown: str) -> None:
    assert markdown(raw) == shown


def test_the_drift_report_escapes_the_stars_of_masks_too() -> None:
    assert markdown("c***@example.com", masks=False) == "c\\*\\*\\*@example.com"
    assert markdown(None) == ""


# -- the plan's Markdown ----------------------------------------------------------------------

CONSENT = "ticket #12 | cc @octocat, see [form](https://evil.example/f) `x` **ok**"
PIXEL = "<img src=x onerror=alert(1)> ![p](https://t.example/p.png) @octocat"


def hostile_plan() -> Plan:
    changes = (
        ListChange(
            ChangeKind.RESUBSCRIBE,
            "dana@example.com",
            f"opt-in: {CONSENT}\n| forged | row | here | (s.csv:2)",
            {"first_name": "Dana"},
        ),
        ListChange(
            ChangeKind.UPDATE,
            "bob@example.com",
            "m.csv:4",
            {"first_name": "Bob"},
            {"first_name": PIXEL},
        ),
    )
    list_plan = ListPlan(
        "news",
        "og",
        "ongage",
        "1001 @octocat",
        ListMode.AUTHORITATIVE,
        DropAction.REMOVE,
        changes,
        CurrentStateRef("export", "exports/`x`\n@octocat.csv", 2, "ab" * 32, NOW),
    )
    return Plan((list_plan,), NOW)


RESUBSCRIBE_ROW = (
    "| d***@example.com | first_name='Dana' | opt-in: ticket #&#8203;12 \\| cc @&#8203;octocat, "
    "see \\[form\\](https:&#8203;//evil.example/f) \\`x\\` \\*\\*ok\\*\\*\\n\\| forged \\| row "
    "\\| here \\| (s.csv:2) |"
)


def update_row(reason: str) -> str:
    return (
        "| b***@example.com | first_name: '&lt;img src=x onerror=alert(1)&gt; !\\[p\\]"
        f"(https:&#8203;//t.example/p.png) @&#8203;octocat' → 'Bob' | {reason} |"
    )


def test_a_hostile_row_renders_as_inert_text_in_its_cell() -> None:
    lines = render_markdown(hostile_plan()).splitlines()
    assert "### news (ongage list 1001 @&#8203;octocat, authoritative)" in lines
    assert (
        "Current state: export `exports/'x'\\n@octocat.csv`, 2 rows, sha256 `abababababab`."
        in lines
    )
    assert RESUBSCRIBE_ROW in lines
    assert update_row("m.csv:4") in lines


def test_no_data_line_can_leave_its_table() -> None:
    markdown_text = render_markdown(hostile_plan())
    found = tables(markdown_text)  # every table well formed: header, delimiter, equal cells
    assert [len(t) for t in found] == [3, 3, 3]
    # No @ before a name but the masked addresses', and the one in the location's code span
    # (which GitHub never links).
    lines = [line for line in markdown_text.splitlines() if not line.startswith("Current state")]
    assert re.findall(r"@(?!&#8203;)\w+", "\n".join(lines)) == ["@example", "@example"]


def test_comments_split_from_hostile_rows_keep_every_table_whole() -> None:
    rows = [
        ListChange(ChangeKind.ADD, f"m{i:05d}@example.com", f"{CONSENT}\n</details>\n# x {i}")
        for i in range(3000)
    ]
    plan = Plan(
        (ListPlan("news", "og", "ongage", "1", ListMode.ADDITIVE, DropAction.REMOVE, tuple(rows)),),
        NOW,
    )
    comments = split_comments(render_markdown(plan, sample=None))
    assert len(comments) > 1
    shown = 0
    for comment in comments:
        assert details_balanced(comment)
        # Each table is well formed; the address tables hold every row.
        shown += sum(len(t) - 2 for t in tables(comment) if t[0] == "| address | detail | reason |")
        assert not [line for line in comment.splitlines() if line.startswith("# x")]
    assert shown == 3000


# -- the drift report -------------------------------------------------------------------------


def hostile_drift_plan() -> Plan:
    change = ListChange(ChangeKind.ADD, "ann@example.com", f"{CONSENT} {PIXEL}")
    list_plan = ListPlan(
        "news",
        "og",
        "ongage",
        "1001",
        ListMode.AUTHORITATIVE,
        DropAction.REMOVE,
        (change,),
        CurrentStateRef("vendor", "ongage POST /1001/api/export", 1, "ab" * 32, NOW),
    )
    return Plan((list_plan,), NOW, "c" * 64)


def test_the_drift_markdown_renders_a_hostile_reason_inert() -> None:
    text = drift_markdown.render_markdown(compute_drift(hostile_drift_plan(), None))
    assert (
        "| add | a\\*\\*\\*@example.com | ticket #&#8203;12 \\| cc @&#8203;octocat, see "
        "\\[form\\](https:&#8203;//evil.example/f) \\`x\\` \\*\\*ok\\*\\* &lt;img src=x "
        "onerror=alert(1)&gt; !\\[p\\](https:&#8203;//t.example/p.png) @&#8203;octocat | - |"
    ) in text.splitlines()


def test_the_html_report_autoescapes_and_shows_controls_escaped() -> None:
    assert drift_html.environment().autoescape is True
    plan = hostile_drift_plan()
    lp = plan.lists[0]
    hostile = ListPlan(
        "news",
        "og",
        "ongage",
        "<script>alert(1)</script>",
        lp.mode,
        lp.drop_action,
        (ListChange(ChangeKind.ADD, "ann@example.com", PIXEL + "\u202e\x1b[2J"),),
        lp.current,
    )
    html = drift_html.render_html(compute_drift(Plan((hostile,), NOW, "c" * 64), None))
    assert (
        "<td>add</td><td>a***@example.com</td><td>&lt;img src=x onerror=alert(1)&gt; "
        "![p](https://t.example/p.png) @octocat\\u202e\\x1b[2J</td>"
    ) in html
    assert "ongage list &lt;script&gt;alert(1)&lt;/script&gt; via provider og" in html
    assert "<img" not in html and "<script" not in html and "\u202e" not in html


# -- the command line -------------------------------------------------------------------------

CONFIG = """\
providers:
  og: {type: ongage, base_url: sandbox}
sandbox: {seed: seed.yaml}
guards: {max_drop_percent: null, max_add_percent: null, max_update_percent: null}
lists:
  news: {provider: og, list_id: 1001, managed_fields: [first_name], members: [{csv: members.csv}]}
resubscribe:
  - csv: optins.csv
"""
SEED = f"""\
ongage:
  lists:
    "1001":
      fields: [first_name]
      contacts:
        - {{email: dana@example.com, status: unsubscribed}}
        - {{email: bob@example.com, status: active, fields: {{first_name: "{PIXEL}"}}}}
"""


def test_plan_comments_from_a_hostile_repository_and_vendor_are_inert(tmp_path: Path) -> None:
    p = FaultProject(tmp_path)
    p.write("reconciler.yaml", CONFIG)
    p.write("seed.yaml", SEED)
    p.write("members.csv", "email,first_name\ndana@example.com,Dana\nbob@example.com,Bob\n")
    p.write("optins.csv", f'email,consent\ndana@example.com,"{CONSENT}"\n')
    run = p.run("plan", "-c", "reconciler.yaml", "--markdown-dir", "comments")
    assert (run.code, run.err) == (0, "")
    (comment,) = sorted((tmp_path / "comments").glob("comment-*.md"))
    lines = comment.read_text().splitlines()
    assert (
        "| d***@example.com | first_name='Dana' | opt-in: ticket #&#8203;12 \\| cc "
        "@&#8203;octocat, see \\[form\\](https:&#8203;//evil.example/f) \\`x\\` \\*\\*ok\\*\\* "
        "(optins.csv:2) |"
    ) in lines
    assert update_row("members.csv:3") in lines
    assert [len(t) for t in tables(comment.read_text())] == [3, 3, 3]
