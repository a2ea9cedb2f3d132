"""Bad input in member, suppression and export files: exact messages with file and line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from reconciler.engine.planner import build_plan
from reconciler.errors import PlanError, SourceError
from tests.engine.conftest import Write, kinds, loaded, one_list, plan_for

EXPORT = {"format": "ongage", "path": "export.csv"}


def problems_of(exc: pytest.ExceptionInfo[SourceError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


def test_invalid_addresses_refuse_the_plan_with_every_line(write: Write, workdir: Path) -> None:
    write("members.csv", "email\nok@example.com\nnot-an-email\n\nbad@@example.com\n")
    write("export.csv", "email\n")
    with pytest.raises(SourceError) as exc:
        plan_for(workdir, one_list(members=[{"csv": "members.csv"}], export=EXPORT))
    assert problems_of(exc) == [
        "members.csv:3: invalid e-mail address 'not-an-email'",
        "members.csv:5: invalid e-mail address 'bad@@example.com'",
    ]
    assert "set skip_invalid: true" in str(exc.value)


def test_skip_invalid_plans_and_reports_each_skipped_row(write: Write, workdir: Path) -> None:
    write("members.csv", "email\nok@example.com\nnot-an-email\n")
    write("export.csv", "email\n")
    config = one_list(members=[{"csv": "members.csv"}], export=EXPORT, skip_invalid=True)
    plan = plan_for(workdir, config).lists[0]
    assert kinds(plan) == {"add": {"ok@example.com"}}
    assert plan.skipped_invalid == ("members.csv:3: invalid e-mail address 'not-an-email'",)


def test_duplicates_across_sources_are_merged(write: Write, workdir: Path) -> None:
    write("a.csv", "email,first_name\nann@example.com,Ann\n")
    write("b.csv", "email,first_name\nANN@example.com,\n")
    write("export.csv", "email\n")
    config = one_list(
        members=[
            {"csv": "a.csv"},
            {"csv": "b.csv"},
            {"inline": [{"email": " Ann@Example.com", "fields": {"first_name": "Ann"}}]},
        ],
        export=EXPORT,
        managed=["first_name"],
    )
    plan = plan_for(workdir, config).lists[0]
    assert [(c.kind.value, c.email, dict(c.fields), c.reason) for c in plan.changes] == [
        ("add", "ann@example.com", {"first_name": "Ann"}, "a.csv:2")
    ]
    assert plan.desired_members == 1


def test_conflicting_field_values_name_both_places(write: Write, workdir: Path) -> None:
    write("a.csv", "email,first_name\nann@example.com,Ann\n")
    write("b.csv", "email,first_name\nbob@example.com,Bob\nANN@example.com,Anne\n")
    write("export.csv", "email\n")
    config = one_list(
        members=[{"csv": "a.csv"}, {"csv": "b.csv"}], export=EXPORT, managed=["first_name"]
    )
    with pytest.raises(SourceError) as exc:
        plan_for(workdir, config)
    assert problems_of(exc) == [
        "b.csv:3: conflicting first_name for ann@example.com: 'Ann' at a.csv:2, 'Anne' at b.csv:3"
    ]


def test_broken_csv_lists_every_bad_row(write: Write, workdir: Path) -> None:
    write(
        "members.csv",
        "email,first_name\na@example.com,A\nb@example.com,B,extra\n"
        "c@example.com\nd@example.com,D\n",
    )
    write("export.csv", "email\n")
    config = one_list(members=[{"csv": "members.csv"}], export=EXPORT, managed=["first_name"])
    with pytest.raises(SourceError) as exc:
        plan_for(workdir, config)
    assert problems_of(exc) == [
        "members.csv:3: wrong number of columns (expected number of columns: 2 found: 3)",
        "members.csv:4: wrong number of columns (expected number of columns: 2 found: 1)",
    ]


def test_unterminated_quote_is_located(write: Write, workdir: Path) -> None:
    write("members.csv", 'email\na@example.com\n"b@example.com\n')
    write("export.csv", "email\n")
    with pytest.raises(SourceError) as exc:
        plan_for(workdir, one_list(members=[{"csv": "members.csv"}], export=EXPORT))
    assert [p.line for p in exc.value.problems] == [3]
    assert exc.value.problems[0].file == "members.csv"


def test_quoted_newlines_keep_line_numbers_exact(write: Write, workdir: Path) -> None:
    write("members.csv", 'email,note\na@example.com,"two\nlines"\nnot-valid,x\n')
    write("export.csv", "email\n")
    with pytest.raises(SourceError) as exc:
        plan_for(workdir, one_list(members=[{"csv": "members.csv"}], export=EXPORT))
    assert problems_of(exc) == ["members.csv:4: invalid e-mail address 'not-valid'"]


@pytest.mark.parametrize("delimiter", [";", "|", "\t"])
def test_delimiters_are_detected(write: Write, workdir: Path, delimiter: str) -> None:
    write(
        "members.csv",
        f"Email{delimiter}First_Name\n\ufeffa@example.com{delimiter}A\n".replace("\ufeff", ""),
    )
    write("export.csv", "email\n")
    config = one_list(members=[{"csv": "members.csv"}], export=EXPORT, managed=["first_name"])
    plan = plan_for(workdir, config).lists[0]
    assert [(c.email, dict(c.fields)) for c in plan.changes] == [
        ("a@example.com", {"first_name": "A"})
    ]


def test_bom_and_header_mapping(write: Write, workdir: Path) -> None:
    write("members.csv", '\ufeff"E-Mail";"Vorname"\n"a@example.com";"Änne; B"\n')
    write("export.csv", "email\n")
    config = one_list(
        members=[{"csv": "members.csv", "columns": {"email": "E-Mail", "first_name": "Vorname"}}],
        export=EXPORT,
        managed=["first_name"],
    )
    plan = plan_for(workdir, config).lists[0]
    assert [(c.email, dict(c.fields)) for c in plan.changes] == [
        ("a@example.com", {"first_name": "Änne; B"})
    ]


def test_missing_mapped_column_is_an_error(write: Write, workdir: Path) -> None:
    write("members.csv", "mail,name\na@example.com,A\n")
    write("export.csv", "email\n")
    with pytest.raises(SourceError) as exc:
        plan_for(workdir, one_list(members=[{"csv": "members.csv"}], export=EXPORT))
    assert problems_of(exc) == [
        "members.csv:1: no column 'email' for 'email' (columns: mail, name)"
    ]


def test_missing_file_and_empty_glob(write: Write, workdir: Path) -> None:
    write("export.csv", "email\n")
    config = one_list(members=[{"csv": "nope.csv"}, {"csv": "members/*.csv"}], export=EXPORT)
    with pytest.raises(SourceError) as exc:
        plan_for(workdir, config)
    assert [p.message for p in exc.value.problems] == [
        "file not found: nope.csv",
        "no file matches 'members/*.csv'",
    ]


def test_glob_reads_every_file(write: Write, workdir: Path) -> None:
    write("members/a.csv", "email\na@example.com\n")
    write("members/b.csv", "email\nb@example.com\n")
    write("export.csv", "email\n")
    config = one_list(members=[{"csv": "members/*.csv"}], export=EXPORT)
    plan = plan_for(workdir, config).lists[0]
    assert [(c.email, c.reason) for c in plan.changes] == [
        ("a@example.com", "members/a.csv:2"),
        ("b@example.com", "members/b.csv:2"),
    ]


def test_non_utf8_file_is_a_clear_error(write: Write, workdir: Path) -> None:
    (workdir / "members.csv").write_bytes(b"email\na@example.com\nb\xe9@example.com\n")
    write("export.csv", "email\n")
    with pytest.raises(SourceError) as exc:
        plan_for(workdir, one_list(members=[{"csv": "members.csv"}], export=EXPORT))
    assert problems_of(exc) == [
        "members.csv:3: not valid utf-8 text (byte 0xe9); set 'encoding' for this source"
    ]


def test_latin1_encoding_when_declared(write: Write, workdir: Path) -> None:
    (workdir / "members.csv").write_bytes(b"email,first_name\na@example.com,Ren\xe9\n")
    write("export.csv", "email\n")
    config = one_list(
        members=[{"csv": "members.csv", "encoding": "latin-1"}],
        export=EXPORT,
        managed=["first_name"],
    )
    plan = plan_for(workdir, config).lists[0]
    assert dict(plan.changes[0].fields) == {"first_name": "René"}


def test_bad_suppression_rows(write: Write, workdir: Path) -> None:
    write("members.csv", "email\n")
    write("export.csv", "email\n")
    write("sup.csv", "email,reason\na@example.com,spam\nnope,bounce\n")
    config = one_list(
        members=[{"csv": "members.csv"}], export=EXPORT, suppressions=[{"csv": "sup.csv"}]
    )
    with pytest.raises(SourceError) as exc:
        plan_for(workdir, config)
    assert problems_of(exc) == [
        "sup.csv:2: unknown suppression reason 'spam' "
        "(expected one of: unsubscribe, bounce, complaint)",
        "sup.csv:3: invalid e-mail address 'nope'",
    ]


def test_suppression_file_with_fixed_reason(write: Write, workdir: Path) -> None:
    write("members.csv", "email\n")
    write("export.csv", "email\na@example.com\n")
    write("bounces.csv", "email\nA@example.com\n")
    config = one_list(
        members=[{"csv": "members.csv"}],
        export=EXPORT,
        mode="additive",
        suppressions=[{"csv": "bounces.csv", "reason": "bounce"}],
    )
    assert kinds(plan_for(workdir, config).lists[0]) == {"bounce": {"a@example.com"}}


def test_unknown_export_status(write: Write, workdir: Path) -> None:
    write("members.csv", "email\n")
    write("export.csv", "email,status\na@example.com,active\nb@example.com,zombie\n")
    with pytest.raises(SourceError) as exc:
        plan_for(workdir, one_list(members=[{"csv": "members.csv"}], export=EXPORT))
    assert problems_of(exc) == ["export.csv:3: unknown contact status 'zombie'"]


def test_ongage_status_filtered_exports(write: Write, workdir: Path) -> None:
    write("members.csv", "email\na@example.com\nb@example.com\n")
    write("active.csv", "email\na@example.com\nc@example.com\n")
    write("unsub.csv", "email\nb@example.com\n")
    export = {
        "format": "ongage",
        "by_status": {"active": "active.csv", "unsubscribed": "unsub.csv"},
    }
    plan = plan_for(workdir, one_list(members=[{"csv": "members.csv"}], export=export)).lists[0]
    assert kinds(plan) == {"remove": {"c@example.com"}, "held": {"b@example.com"}}
    assert plan.current is not None
    digest = hashlib.sha256(b"email\na@example.com\nc@example.com\nemail\nb@example.com\n")
    assert (plan.current.rows, plan.current.sha256) == (3, digest.hexdigest())
    assert plan.current.location == "active.csv, unsub.csv"


def test_listmonk_csv_export(write: Write, workdir: Path) -> None:
    write("members.csv", "email,first_name\na@example.com,Ann\nb@example.com,Bob\n")
    write(
        "export.csv",
        "uuid,email,name,attributes,status,created_at,updated_at\n"
        'u1,a@example.com,Ann,"{""first_name"": ""Anne""}",enabled,2026-01-01,2026-01-01\n'
        "u2,b@example.com,Bob,{},blocklisted,2026-01-01,2026-01-01\n",
    )
    export = {"format": "listmonk-csv", "path": "export.csv"}
    config = one_list(members=[{"csv": "members.csv"}], export=export, managed=["first_name"])
    plan = plan_for(workdir, config).lists[0]
    assert kinds(plan) == {"update": {"a@example.com"}, "held": {"b@example.com"}}


def test_listmonk_json_export(write: Write, workdir: Path) -> None:
    write("members.csv", "email,name\na@example.com,Ann\nb@example.com,Bob\n")
    listing = {
        "data": {
            "results": [
                {
                    "email": "a@example.com",
                    "name": "Ann",
                    "status": "enabled",
                    "lists": [{"id": 3, "subscription_status": "confirmed"}],
                },
                {
                    "email": "b@example.com",
                    "name": "Bob",
                    "status": "enabled",
                    "lists": [{"id": 3, "subscription_status": "unsubscribed"}],
                },
                {
                    "email": "c@example.com",
                    "name": "C",
                    "status": "enabled",
                    "lists": [{"id": 4, "subscription_status": "confirmed"}],
                },
            ]
        }
    }
    write("subs.json", json.dumps(listing))
    export = {"format": "listmonk-json", "path": "subs.json", "list_id": "3"}
    config = one_list(members=[{"csv": "members.csv"}], export=export, managed=["name"])
    plan = plan_for(workdir, config).lists[0]
    assert kinds(plan) == {"held": {"b@example.com"}}


def test_unknown_target_list(write: Write, workdir: Path) -> None:
    write("members.csv", "email\n")
    write("export.csv", "email\n")
    config = one_list(members=[{"csv": "members.csv"}], export=EXPORT)
    with pytest.raises(PlanError, match=r"unknown list 'nope' \(defined lists: news\)"):
        build_plan(loaded(workdir, config), targets=["nope"])


MIXED = "mixed line endings; save the file with one kind of line ending"


@pytest.mark.parametrize(
    ("members", "problem"),
    [
        # A stray quote inside an unquoted value is literal, as DuckDB reads it: the line ending
        # after it still ends the record (DuckDB itself says only "the CSV Parser state machine
        # reached an invalid state", with no line).
        (
            b'email\na@example.com"\r',
            f"members.csv:2: line ends with CR where line 1 ends with LF: {MIXED}",
        ),
        (
            b'email\na@example.com"\r\n',
            f"members.csv:2: line ends with CRLF where line 1 ends with LF: {MIXED}",
        ),
        (
            b'email,name\na@example.com",x\r',
            f"members.csv:2: line ends with CR where line 1 ends with LF: {MIXED}",
        ),
        (
            b'email\na""@example.com"\rb@example.com\n',
            f"members.csv:2: line ends with CR where line 1 ends with LF: {MIXED}",
        ),
        (
            b'email\r\na@example.com"\n',
            f"members.csv:2: line ends with LF where line 1 ends with CRLF: {MIXED}",
        ),
        (
            b'email\nok@example.com\na@example.com"',
            "members.csv:3: invalid e-mail address 'a@example.com\"'",
        ),
        # A quote that opens the field does quote it: the CR inside is part of the value.
        (
            b'email,name\nok@example.com,"x\ry"\nb@example.com,y\r',
            f"members.csv:3: line ends with CR where line 1 ends with LF: {MIXED}",
        ),
    ],
)
def test_a_stray_quote_before_a_line_ending_is_located(
    write: Write, workdir: Path, members: bytes, problem: str
) -> None:
    (workdir / "members.csv").write_bytes(members)
    write("export.csv", "email\n")
    with pytest.raises(SourceError) as exc:
        plan_for(workdir, one_list(members=[{"csv": "members.csv"}], export=EXPORT))
    assert problems_of(exc) == [problem]


def test_a_row_rejected_twice_for_one_quote_is_one_problem(write: Write, workdir: Path) -> None:
    # DuckDB rejects this row twice (an unquoted value after the quotes, and the quote itself):
    # the user sees it once.
    (workdir / "members.csv").write_bytes(b'email\nok@example.com\n"a@example.com"x\r')
    write("export.csv", "email\n")
    with pytest.raises(SourceError) as exc:
        plan_for(workdir, one_list(members=[{"csv": "members.csv"}], export=EXPORT))
    assert problems_of(exc) == ["members.csv:3: value with an unterminated or stray quote"]
