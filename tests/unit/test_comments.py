"""Splitting the Markdown plan into pull-request comments under GitHub's size limit."""

from __future__ import annotations

import re

from reconciler.model import ChangeKind, DropAction, ListMode
from reconciler.plan.model import ListChange, ListPlan, Plan
from reconciler.render.comments import BUDGET, GITHUB_LIMIT, parse, split_block, split_comments
from reconciler.render.markdown import render_markdown
from tests.unit.test_render import NOW, make_plan

ROW = re.compile(r"^\| (\S+) \| (.*) \| (.*) \|$")
HEADER = "| address | detail | reason |"
DELIMITER = "| --- | --- | --- |"


def tables(comment: str) -> list[list[str]]:
    """Every table in ``comment`` as its lines, checking it is well formed: a header row, a
    delimiter row with as many cells, then rows of as many cells, ended by a blank line."""
    found = []
    lines = comment.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("|"):
            i += 1
            continue
        assert i == 0 or lines[i - 1] == "", f"table not after a blank line: {lines[i]}"
        start = i
        while i < len(lines) and lines[i].startswith("|"):
            i += 1
        table = lines[start:i]
        cells = table[0].count(" | ")
        assert re.fullmatch(r"\|( (---|---:) \|)+", table[1]), table[:2]
        assert all(line.count(" | ") == cells for line in table[1:]), table
        assert i == len(lines) or lines[i] == "", f"table not ended by a blank line: {table[-1]}"
        found.append(table)
    return found


def details_balanced(comment: str) -> bool:
    depth = 0
    for line in comment.splitlines():
        depth += line.startswith("<details>") - line.startswith("</details>")
        if depth not in (0, 1):
            return False
    return depth == 0


def test_a_50000_change_plan_splits_into_whole_tables_under_the_limit() -> None:
    plan = make_plan(adds=50_000)
    markdown = render_markdown(plan, sample=None)  # every row, as with --show-all
    comments = split_comments(markdown)

    assert len(comments) > 30
    assert all(len(c.encode()) < GITHUB_LIMIT for c in comments)
    first = comments[0]
    assert first.startswith(f"## reconciler plan (part 1 of {len(comments)})\n\n")
    assert (
        "Plan: 50,000 to add, 0 to remove, 0 to unsubscribe, 0 to resubscribe, "
        "0 to mark as bounced, 0 to mark as complained, 1 to update, 1 held." in first
    )
    assert "| news | ongage | 50,000 | 0 | 0 | 0 | 0 | 0 | 1 | 1 |" in first
    assert all("Plan: 50,000 to add" not in c for c in comments[1:])
    rows = []
    for n, comment in enumerate(comments, start=1):
        assert comment.startswith(f"## reconciler plan (part {n} of {len(comments)})\n\n")
        assert details_balanced(comment), n
        for table in tables(comment):
            if table[0] == HEADER:
                assert table[1] == DELIMITER
                rows.extend(table[2:])
        if n > 1:
            assert "### news (ongage list 1001, authoritative) (continued)" in comment
            assert "<details><summary>add: 50,000 (continued)</summary>" in comment or n == len(
                comments
            )
    # Every row exactly once, in order: nothing lost or repeated at the cuts.
    reasons = [ROW.match(r).group(3) for r in rows]  # type: ignore[union-attr]
    assert reasons == [f"m.csv:{i + 2}" for i in range(50_000)] + ["m.csv:99", HELD_REASON]
    # Comments are filled: all but the last use most of the budget.
    assert all(len(c.encode()) > BUDGET - 200 for c in comments[:-1])


HELD_REASON = "vendor status: bounced; declared at m.csv:7"


def many_lists_plan(lists: int, adds: int) -> Plan:
    def one(n: int) -> ListPlan:
        changes = tuple(
            ListChange(ChangeKind.ADD, f"u{n}-{i}@example.com", f"list{n}.csv:{i + 2}")
            for i in range(adds)
        )
        return ListPlan(
            f"list-{n:03d}", "og", "ongage", str(n), ListMode.ADDITIVE, DropAction.REMOVE, changes
        )

    return Plan(tuple(one(n) for n in range(lists)), NOW)


def test_sections_are_never_cut_when_they_fit_and_the_summary_comes_first() -> None:
    plan = many_lists_plan(lists=400, adds=60)  # 24,000 changes, 20 sample rows per list
    comments = split_comments(render_markdown(plan))
    assert len(comments) > 1
    assert all(len(c.encode()) <= BUDGET for c in comments)
    summary_rows = [line for line in comments[0].splitlines() if line.startswith("| list-")]
    assert len(summary_rows) == 400
    seen = []
    for comment in comments:
        assert "(continued)" not in comment  # every list section whole in one comment
        assert details_balanced(comment)
        tables(comment)
        seen += re.findall(r"^### (list-\d+) ", comment, flags=re.M)
    assert seen == [f"list-{n:03d}" for n in range(400)]


def test_a_plan_that_fits_is_one_comment_unchanged() -> None:
    markdown = render_markdown(make_plan(adds=30))
    assert split_comments(markdown) == [markdown]


def test_sizes_count_utf8_bytes() -> None:
    text = "## t\n\n" + "".join(f"para {i} é😀\n\n" for i in range(3000))
    comments = split_comments(text, budget=4_000)
    assert all(len(c.encode()) <= 4_000 for c in comments)
    assert any(len(c) < len(c.encode()) for c in comments)
    body = "".join(c.split("\n\n", 1)[1] for c in comments)
    assert body.count("é😀") == 3000


def test_code_blocks_and_details_are_closed_and_reopened_at_a_cut() -> None:
    block = (
        "<details><summary>log</summary>\n\n```text\n"
        + "".join(f"line {i:04d}\n" for i in range(200))
        + "```\n\n</details>\n\n"
    )
    parts = split_block(block, 600)
    assert len(parts) > 3
    for part in parts:
        assert len(part.encode()) <= 600
        assert part.startswith(("<details><summary>log</summary>", "<details><summary>log (con"))
        assert part.count("```") == 2 and details_balanced(part)
    lines = [line for p in parts for line in p.splitlines() if line.startswith("line ")]
    assert lines == [f"line {i:04d}" for i in range(200)]


def test_parse_keeps_every_byte() -> None:
    markdown = render_markdown(many_lists_plan(lists=3, adds=25))
    title, sections = parse(markdown)
    assert title == "## reconciler plan"
    assert [s.heading.split(" (")[0] for s in sections] == [
        "",
        "### list-000",
        "### list-001",
        "### list-002",
    ]
    assert markdown == title + "\n\n" + "".join(s.text for s in sections)
