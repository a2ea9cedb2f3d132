"""Property-based tests of member files through the whole planner (CSV → DuckDB → plan): hostile
bytes, BOMs, mixed line endings, stray quotes, huge fields and non-UTF-8 either plan or fail with
a SourceError naming the file and the exact line — never another exception, never a problem
without a line. ``test_addresses_and_csv.py`` covers the normaliser and the reader on its own.
"""

from __future__ import annotations

import contextlib
import csv
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path

from hypothesis import assume, example, given
from hypothesis import strategies as st

from reconciler.address import is_valid, mask, normalise
from reconciler.apply.batches import render_batch
from reconciler.errors import PlanError, Problem, SourceError
from reconciler.model import Action, ChangeKind
from reconciler.plan.model import ListChange, Plan
from reconciler.providers.base import BatchFormat
from tests.engine.conftest import kinds, plan_for
from tests.hypothesis_budget import examples
from tests.property.test_addresses_and_csv import DOMAIN, LOCAL

CONFIG = {
    "providers": {"og": {"type": "ongage"}},
    "lists": {
        "news": {
            "provider": "og",
            "list_id": "1",
            "members": [{"csv": "members.csv"}],
            "export": {"format": "ongage", "path": "export.csv"},
            "managed_fields": ["name"],
        }
    },
}


@contextlib.contextmanager
def project(members: bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
        root = Path(tmp)
        (root / "export.csv").write_text("email,status\n")
        (root / "members.csv").write_bytes(members)
        yield root


def plan_or_problems(members: bytes) -> Plan | list[Problem]:
    """The plan, or the problems the planner refused it for (any other exception fails)."""
    with project(members) as root:
        try:
            return plan_for(root, CONFIG)
        except (SourceError, PlanError) as exc:
            problems = getattr(exc, "problems", None)
            assert problems is not None, f"{type(exc).__name__} without problems: {exc}"
            return list(problems)


def adds(result: Plan | list[Problem]) -> set[str]:
    assert isinstance(result, Plan), result
    return kinds(result.lists[0]).get("add", set())


def the_problem(result: Plan | list[Problem]) -> Problem:
    assert isinstance(result, list) and len(result) == 1, result
    return result[0]


ADDRESS = st.builds(lambda local, domain: f"{local}@{domain}".lower(), LOCAL, DOMAIN).filter(
    is_valid
)
ROWS = st.lists(ADDRESS, min_size=1, max_size=8, unique=True)
PIECES = st.sampled_from(
    [
        *(b"a@example.com", b"B@Example.COM", b",", b";", b"\t", b'"', b"\n", b"\r\n", b"\r"),
        *(b"\x00", b"\xff", b"\xc3(", b"\xef\xbb\xbf", b" ", b"x", b"\xc3\xa9", b"email", b"name"),
    ]
)


@examples(40)
@given(
    st.sampled_from([b"email,name\n", b"\xef\xbb\xbfemail,name\r\n", b"email\n", b"email;name\n"]),
    st.lists(PIECES, max_size=30) | st.binary(max_size=120).map(lambda b: [b]),
)
# Found by the property: a stray quote, then a bare CR (DuckDB named no line).
@example(b"email\n", [b'a@example.com"\r'])
def test_hostile_bytes_plan_or_name_the_file_and_line(header: bytes, body: list[bytes]) -> None:
    result = plan_or_problems(header + b"".join(body))
    if isinstance(result, list):
        for problem in result:
            assert (problem.file, problem.line is not None) == ("members.csv", True), problem


NEWLINES = st.sampled_from(["\n", "\r\n"])


@examples(30)
@given(ROWS, NEWLINES, st.lists(NEWLINES, min_size=9, max_size=9))
def test_mixed_line_endings_are_reported_at_the_first_switch(
    rows: list[str], header_end: str, ends: list[str]
) -> None:
    lines = [("email,name", header_end), *((f"{r},x", e) for r, e in zip(rows, ends, strict=False))]
    result = plan_or_problems("".join(text + end for text, end in lines).encode())
    switch = next((n for n, (_, end) in enumerate(lines, 1) if end != header_end), None)
    if switch is None:
        assert adds(result) == set(rows)
    else:
        problem = the_problem(result)
        assert (problem.file, problem.line) == ("members.csv", switch)
        assert problem.message.startswith("line ends with ")
        assert problem.message.endswith(
            "mixed line endings; save the file with one kind of line ending"
        )


@examples(30)
@given(ROWS, st.data())
def test_a_stray_quote_is_reported_at_its_line(rows: list[str], data: st.DataObject) -> None:
    row = data.draw(st.integers(0, len(rows) - 1), label="row")
    at = data.draw(st.integers(0, len(rows[row])), label="position")
    assume(at > 0)  # a quote opening the field starts a quoted value: tested elsewhere
    lines = [f"{r},x" for r in rows]
    lines[row] = f'{rows[row][:at]}"{rows[row][at:]},x'
    result = plan_or_problems(("email,name\n" + "\n".join(lines) + "\n").encode())
    # A stray quote or, where the reader keeps it, an invalid address: either way, that line.
    problem = the_problem(result)
    assert (problem.file, problem.line) == ("members.csv", row + 2), problem


@examples(8)
@given(ROWS, st.data())
def test_a_huge_field_is_reported_at_its_line(rows: list[str], data: st.DataObject) -> None:
    row = data.draw(st.integers(0, len(rows) - 1), label="row")
    lines = [f"{r},x" for r in rows]
    lines[row] = f"{rows[row]},{'y' * (1 << 20)}"
    problem = the_problem(plan_or_problems(("email,name\n" + "\n".join(lines) + "\n").encode()))
    assert (problem.file, problem.line, problem.message) == (
        "members.csv",
        row + 2,
        "a line is longer than 1 MiB",
    )


@examples(25)
@given(ROWS, st.sampled_from([b"\xff", b"\xc3(", b"\xe9", b"\xed\xa0\x80"]), st.data())
def test_a_byte_that_is_not_utf8_is_reported_at_its_line(
    rows: list[str], bad: bytes, data: st.DataObject
) -> None:
    row = data.draw(st.integers(0, len(rows) - 1), label="row")
    # Far enough down the file that DuckDB, not the dialect sniffer, meets it.
    padding = data.draw(st.sampled_from([0, 5000]), label="padding")
    lines = [f"{r},x".encode() for r in rows]
    lines[row] = lines[row].replace(b"@", bad + b"@")
    filler = [f"pad{i}@example.com,x".encode() for i in range(padding)]
    text = b"email,name\n" + b"\n".join([*filler, *lines]) + b"\n"
    problem = the_problem(plan_or_problems(text))
    assert (problem.file, problem.line) == ("members.csv", padding + row + 2)
    assert "utf-8" in problem.message.lower() and "encoding" in problem.message


# -- the normaliser, round trips ---------------------------------------------------------------

SPACES = st.text(alphabet=" ", max_size=2)


@examples(20)
@given(st.lists(st.tuples(SPACES, ADDRESS, SPACES, st.booleans()), min_size=1, max_size=6))
def test_an_address_in_any_case_and_spacing_plans_as_its_normal_form(
    written: list[tuple[str, str, str, bool]],
) -> None:
    body = "".join(f"{b}{a.upper() if up else a}{e},x\n" for b, a, e, up in written)
    result = plan_or_problems(f"email,name\n{body}".encode())
    assert adds(result) == {normalise(a) for _, a, _, _ in written}


@given(st.lists(ADDRESS, min_size=1, max_size=20), st.sampled_from([",", ";", "|", "\t"]))
def test_batch_files_read_back_as_the_normal_forms_written(rows: list[str], delimiter: str) -> None:
    changes = [
        ListChange(ChangeKind.ADD, normalise(r), "test", {"name": 'A "quoted", name'}) for r in rows
    ]
    data = render_batch(
        changes, Action.ADD, BatchFormat(delimiter=delimiter, field_columns={"name": "name"})
    )
    back = list(csv.reader(io.StringIO(data.decode()), delimiter=delimiter))
    assert back == [["email", "name"], *([normalise(r), 'A "quoted", name'] for r in rows)]
    assert [normalise(r) for r, *_ in back[1:]] == [r for r, *_ in back[1:]]  # a fixed point


@given(ADDRESS)
def test_a_masked_address_keeps_only_its_first_letter_and_domain(address: str) -> None:
    local, _, domain = address.partition("@")
    assert mask(address) == f"{local[0]}***@{domain}"
    assert mask(normalise(f" {address.upper()} ")) == mask(address)  # masks the match form
