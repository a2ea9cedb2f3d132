"""Large member files are numbered in parts side by side: every row keeps its exact number,
and files where a row may span lines (or blank lines hide) are never split."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from reconciler.engine import members
from reconciler.sources import csvfile
from reconciler.sources import lines as line_scan
from reconciler.sources.csvfile import CsvFile, open_csv
from tests.engine.conftest import Write, one_list, plan_for


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Split files of any size, in three parts, marking newlines every 64 bytes."""
    monkeypatch.setattr(csvfile, "MIN_SPLIT_BYTES", 0)
    monkeypatch.setattr(line_scan, "_CHUNK", 64)
    monkeypatch.setattr(members, "cores", lambda: 3)


def _rows(path: Path, *, parts: int, rows: int | None) -> tuple[list[tuple[int, str]], str]:
    csv_file = open_csv(path, display=path.name)
    sql = csv_file.relation({"email": "email"}, parts=parts, rows=rows)
    con = duckdb.connect()
    return sorted(con.execute(f"SELECT ord, email FROM {sql}").fetchall()), sql


def _members(n: int, newline: str = "\n", bom: bool = False, trailing: bool = True) -> bytes:
    lines = ["email", *(f"user{i}@example.com" for i in range(1, n + 1))]
    text = newline.join(lines) + (newline if trailing else "")
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


@pytest.mark.usefixtures("small_parts")
@pytest.mark.parametrize(
    "content",
    [
        _members(500),
        _members(500, newline="\r\n"),
        _members(500, bom=True),
        _members(500, trailing=False),
    ],
    ids=["lf", "crlf", "bom", "no-final-newline"],
)
def test_parts_number_every_row_as_one_read_does(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "members.csv"
    path.write_bytes(content)
    split, sql = _rows(path, parts=3, rows=500)
    assert sql.count("WITH ORDINALITY") == 3
    assert split == [(i, f"user{i}@example.com") for i in range(1, 501)]


@pytest.mark.usefixtures("small_parts")
@pytest.mark.parametrize(
    ("content", "rows"),
    [
        (b'email\n"user1@example.com"\n' + _members(300)[6:], 301),  # a quote
        (_members(300).replace(b"user7@", b"\nuser7@"), 300),  # a blank line
        (_members(300).replace(b"user7@example.com\n", b"user7@example.com\r"), 300),  # bare CR
        (_members(300), 299),  # DuckDB read another number of rows than there are lines
    ],
    ids=["quote", "blank-line", "bare-cr", "row-count-differs"],
)
def test_files_where_rows_and_lines_may_differ_are_read_in_one_part(
    tmp_path: Path, content: bytes, rows: int
) -> None:
    path = tmp_path / "members.csv"
    path.write_bytes(content)
    csv_file: CsvFile = open_csv(path, display=path.name)
    csv_file.note_rows(rows)
    assert csv_file.part_starts(3, rows) is None


def test_small_files_are_read_in_one_part(tmp_path: Path) -> None:
    path = tmp_path / "members.csv"
    path.write_bytes(_members(500))
    _, sql = _rows(path, parts=3, rows=500)
    assert sql.count("WITH ORDINALITY") == 1


def test_a_plan_from_parts_is_the_plan_from_one_read(
    write: Write, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = ["email,first_name"] + [f"user{i}@example.com,Name{i}" for i in range(1, 2001)]
    lines[1235] = "USER1235@Example.com,Changed"  # an update, found on line 1236
    lines[1500] = "not-an-address,Bad"  # skipped, reported on line 1501
    write("members.csv", "\n".join(lines) + "\n")
    export = ["email,first_name,status"] + [
        f"user{i}@example.com,Name{i},active" for i in range(1, 2001, 2)
    ]
    write("export.csv", "\n".join(export) + "\n")
    config = one_list(
        members=[{"csv": "members.csv"}],
        export={"format": "ongage", "path": "export.csv"},
        managed=["first_name"],
        skip_invalid=True,
    )
    whole = plan_for(workdir, config).lists[0]
    monkeypatch.setattr(csvfile, "MIN_SPLIT_BYTES", 0)
    monkeypatch.setattr(line_scan, "_CHUNK", 256)
    monkeypatch.setattr(members, "cores", lambda: 4)
    starts: list[list[int] | None] = []
    part_starts = CsvFile.part_starts

    def recorded(self: CsvFile, parts: int, rows: int | None) -> list[int] | None:
        starts.append(part_starts(self, parts, rows))
        return starts[-1]

    monkeypatch.setattr(CsvFile, "part_starts", recorded)
    parts = plan_for(workdir, config).lists[0]
    assert starts and starts[0] is not None and len(starts[0]) == 4
    assert parts.changes == whole.changes
    assert (
        parts.skipped_invalid
        == whole.skipped_invalid
        == ("members.csv:1501: invalid e-mail address 'not-an-address'",)
    )
    update = next(c for c in parts.changes if c.kind.value == "update")
    assert (update.email, update.reason) == ("user1235@example.com", "members.csv:1236")
    adds = [c for c in parts.changes if c.kind.value == "add"]
    assert len(adds) == 999  # the even-numbered members but the invalid one
    assert {c.email: c.reason for c in adds}["user2@example.com"] == "members.csv:3"


@pytest.mark.usefixtures("small_parts")
def test_a_one_column_file_with_blank_lines_is_numbered_in_parts_like_one_read(
    tmp_path: Path,
) -> None:
    # DuckDB yields a row for each blank line of a one-column file, and ``skip`` counts it as
    # a line: rows still equal lines, so such a file may be split.
    lines = ["email", *(f"user{i}@example.com" for i in range(1, 301))]
    for at in (7, 120, 121, 250):
        lines[at] = ""
    path = tmp_path / "members.csv"
    path.write_text("\n".join(lines) + "\n")
    whole, _ = _rows(path, parts=1, rows=None)
    assert len(whole) == 300
    split, sql = _rows(path, parts=3, rows=300)
    assert sql.count("WITH ORDINALITY") == 3
    assert split == whole
    assert [ord_ for ord_, email in split if email is None] == [7, 120, 121, 250]


@pytest.mark.parametrize("split", [False, True], ids=["one-read", "parts"])
def test_blank_rows_are_neither_members_nor_invalid(
    write: Write, workdir: Path, monkeypatch: pytest.MonkeyPatch, split: bool
) -> None:
    lines = ["email", *(f"user{i}@example.com" for i in range(1, 401))]
    lines[10] = ""
    lines[200] = "   "
    lines[300] = "not-an-address"
    write("members.csv", "\n".join(lines) + "\n\n")
    write("export.csv", "email,status\nuser1@example.com,active\nuser12@example.com,active\n")
    starts: list[list[int] | None] = []
    if split:
        monkeypatch.setattr(csvfile, "MIN_SPLIT_BYTES", 0)
        monkeypatch.setattr(line_scan, "_CHUNK", 256)
        monkeypatch.setattr(members, "cores", lambda: 3)
        part_starts = CsvFile.part_starts

        def recorded(self: CsvFile, parts: int, rows: int | None) -> list[int] | None:
            starts.append(part_starts(self, parts, rows))
            return starts[-1]

        monkeypatch.setattr(CsvFile, "part_starts", recorded)
    config = one_list(
        members=[{"csv": "members.csv"}],
        export={"format": "ongage", "path": "export.csv"},
        skip_invalid=True,
    )
    plan = plan_for(workdir, config).lists[0]
    assert bool(starts and starts[0]) == split
    assert plan.skipped_invalid == ("members.csv:301: invalid e-mail address 'not-an-address'",)
    adds = {c.email: c.reason for c in plan.changes if c.kind.value == "add"}
    assert len(adds) == 400 - 3 - 2  # two blank rows, one invalid, two at the vendor
    assert adds["user11@example.com"] == "members.csv:12"
    assert adds["user399@example.com"] == "members.csv:400"
    assert plan.desired_members == 397


@pytest.mark.parametrize("at", range(0, 130, 7))
def test_a_blank_line_anywhere_stops_counting_rows_by_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, at: int
) -> None:
    # 16-byte chunks: the blank line falls on every side of a chunk boundary in turn.
    monkeypatch.setattr(line_scan, "_CHUNK", 16)
    content = _members(10)
    newline = content.index(b"\n", at)
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    assert open_csv(path, display="export.csv").rows_by_lines() == 10
    path.write_bytes(content[: newline + 1] + b"\n" + content[newline + 1 :])
    assert open_csv(path, display="export.csv").rows_by_lines() is None
    crlf = content.replace(b"\n", b"\r\n")
    path.write_bytes(crlf)
    assert open_csv(path, display="export.csv").rows_by_lines() == 10
    end = crlf.index(b"\r\n", at) + 2
    path.write_bytes(crlf[:end] + b"\r\n" + crlf[end:])
    assert open_csv(path, display="export.csv").rows_by_lines() is None
