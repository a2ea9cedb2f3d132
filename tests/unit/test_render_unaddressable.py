"""The vendor's rows without a valid address (``ListPlan.unaddressable``) in every plan form:
the text line, the Markdown line, the JSON form and a saved plan (which must give them back),
with hostile values shown inert; the plan checksum leaves them out."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from reconciler.plan.artifact import SavedPlan, StateRef, read_saved_plan, write_saved_plan
from reconciler.plan.checksum import exports_checksum, plan_checksum
from reconciler.plan.jsonform import dumps, plan_from_dict, plan_to_dict
from reconciler.plan.model import Plan, Unaddressable
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_text
from tests.unit.test_render import make_plan

PLAIN = Unaddressable(3, ("", "not an email", "x@@example.com"))
#: A screen clear, a mention, a non-ASCII address and a bidi override, among 25 rows.
HOSTILE = Unaddressable(25, ("", "\x1b[2J", "@octocat", "İvan@example.com", "\u202eab@x.com"))

TEXT_PLAIN = (
    "  ! 3 row(s) at the vendor have no valid address and are left as they are: "
    "'', 'not an email', 'x@@example.com'"
)
TEXT_HOSTILE = (
    "  ! 25 row(s) at the vendor have no valid address and are left as they are: "
    "'', '\\x1b[2J', '@octocat', 'İvan@example.com', '\\u202eab@x.com' … and 20 more"
)


def lines_of(text: str) -> list[str]:
    return text.splitlines()


# -- text -------------------------------------------------------------------------------------


def test_text_names_them_on_one_line_under_the_list() -> None:
    lines = lines_of(render_text(make_plan(adds=1, unaddressable=PLAIN)))
    assert lines[:4] == [
        "List 'news' (ongage list 1001 via provider 'og', authoritative, drops by remove)",
        "  current state: export e.csv (10 rows, sha256 abababababab…); 9 active, 12 declared",
        TEXT_PLAIN,
        "  + add: 1",
    ]


def test_text_shows_hostile_values_escaped_and_counts_the_rows_not_shown() -> None:
    text = render_text(make_plan(adds=1, unaddressable=HOSTILE))
    assert TEXT_HOSTILE in lines_of(text)
    assert "\x1b" not in text and "\u202e" not in text


def test_text_sample_is_bounded_like_the_rows_and_show_all_shows_the_plans_sample() -> None:
    sample = tuple(f"bad{i:02d}" for i in range(20))
    plan = make_plan(adds=1, unaddressable=Unaddressable(40, sample))
    (line,) = [x for x in lines_of(render_text(plan)) if x.startswith("  ! ")]
    assert line.endswith(
        ": 'bad00', 'bad01', 'bad02', 'bad03', 'bad04', 'bad05', "
        "'bad06', 'bad07', 'bad08', 'bad09' … and 30 more"
    )
    (line,) = [x for x in lines_of(render_text(plan, show_all=True)) if x.startswith("  ! ")]
    assert line.endswith(", 'bad19' … and 20 more")


def test_text_line_is_yellow_like_the_skipped_rows_and_absent_without_any() -> None:
    coloured = render_text(make_plan(adds=1, unaddressable=PLAIN), colour=True)
    assert f"\x1b[33m{TEXT_PLAIN}\x1b[0m" in lines_of(coloured)
    assert "no valid address" not in render_text(make_plan(adds=1))


# -- Markdown ---------------------------------------------------------------------------------

MD_PLAIN = (
    "> 3 row(s) at the vendor have no valid address and are left as they are: "
    "'', '\\*\\*\\*', 'x***@&#8203;@&#8203;example.com'."
)


def test_markdown_masks_them_like_addresses_in_one_quoted_line() -> None:
    lines = lines_of(render_markdown(make_plan(adds=1, unaddressable=PLAIN)))
    at = lines.index(MD_PLAIN)
    assert lines[at - 2 : at + 3] == [
        "Current state: export `e.csv`, 10 rows, sha256 `abababababab`.",
        "",
        MD_PLAIN,
        "",
        "<details><summary>add: 1</summary>",
    ]


def test_markdown_of_hostile_values_is_inert_masked_or_not() -> None:
    masked = render_markdown(make_plan(adds=1, unaddressable=HOSTILE))
    assert (
        "> 25 row(s) at the vendor have no valid address and are left as they are: "
        "'', '\\*\\*\\*', '\\*\\*\\*@&#8203;octocat', 'İ***@example.com', "
        "'\\u202e***@x.com' … and 20 more."
    ) in lines_of(masked)
    shown = render_markdown(make_plan(adds=1, unaddressable=HOSTILE), redact=False)
    assert (
        "> 25 row(s) at the vendor have no valid address and are left as they are: "
        "'', '\\x1b\\[2J', '@&#8203;octocat', 'İvan@example.com', '\\u202eab@x.com' "
        "… and 20 more."
    ) in lines_of(shown)
    for text in (masked, shown):
        assert "\x1b" not in text and "\u202e" not in text and "@octocat" not in text


def test_markdown_without_any_says_nothing() -> None:
    assert "no valid address" not in render_markdown(make_plan(adds=1))


# -- JSON, saved plans, checksum --------------------------------------------------------------


def test_json_round_trip_keeps_them_exactly_hostile_values_too() -> None:
    for unaddressable in (PLAIN, HOSTILE, None):
        plan = make_plan(unaddressable=unaddressable)
        data = json.loads(dumps(plan_to_dict(plan)))
        assert plan_from_dict(data) == plan
        expected = (
            None
            if unaddressable is None
            else {"rows": unaddressable.rows, "sample": list(unaddressable.sample)}
        )
        assert data["lists"][0]["unaddressable"] == expected


def test_json_form_writes_them_after_the_skipped_rows() -> None:
    data = plan_to_dict(make_plan(unaddressable=PLAIN))["lists"][0]
    keys = list(data)
    assert keys[keys.index("skipped_invalid") + 1] == "unaddressable"
    assert data["unaddressable"] == {"rows": 3, "sample": ["", "not an email", "x@@example.com"]}


def test_a_plan_written_before_the_field_reads_as_none() -> None:
    data = plan_to_dict(make_plan(unaddressable=PLAIN))
    del data["lists"][0]["unaddressable"]
    assert plan_from_dict(data).lists[0].unaddressable is None


def test_a_saved_plan_gives_them_back_and_renders_as_the_fresh_one(tmp_path: Path) -> None:
    plan = make_plan(unaddressable=HOSTILE)
    saved = SavedPlan(
        plan,
        StateRef(".reconciler/state.json", "lin-1", 7),
        plan_checksum=plan_checksum(plan),
        exports_checksum=exports_checksum(plan),
    )
    write_saved_plan(tmp_path / "plan.zip", saved)
    back = read_saved_plan(tmp_path / "plan.zip")
    assert back == saved
    assert render_text(back.plan) == render_text(plan)


def test_the_plan_checksum_leaves_them_out() -> None:
    # Nothing is sent for them: a plan reviewed with them applies the same rows without.
    plan = make_plan()
    with_them = Plan(
        tuple(replace(lp, unaddressable=HOSTILE) for lp in plan.lists),
        plan.created_at,
        plan.config_checksum,
    )
    assert plan_checksum(with_them) == plan_checksum(plan)
