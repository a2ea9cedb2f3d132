"""validate: every problem of every source at once, without any vendor."""

from __future__ import annotations

from pathlib import Path

from reconciler.engine.validate import validate_sources
from tests.engine.conftest import Write, loaded


def test_validate_lists_every_problem_of_every_list(write: Write, workdir: Path) -> None:
    write("a.csv", "email,first_name\nann@example.com,Ann\nnope,X\nANN@example.com,Anne\n")
    write("b.csv", "email\nok@example.com\nalso bad\n")
    write("export.csv", "mail\n")
    config = {
        "providers": {"og": {"type": "ongage"}},
        "lists": {
            "one": {
                "provider": "og",
                "list_id": "1",
                "managed_fields": ["first_name"],
                "members": [{"csv": "a.csv"}],
            },
            "two": {
                "provider": "og",
                "list_id": "2",
                "members": [{"csv": "b.csv"}],
                "export": {"format": "ongage", "path": "export.csv"},
            },
        },
    }
    assert [str(p) for p in validate_sources(loaded(workdir, config))] == [
        "a.csv:3: invalid e-mail address 'nope'",
        "a.csv:4: conflicting first_name for ann@example.com: 'Ann' at a.csv:2, 'Anne' at a.csv:4",
        "b.csv:3: invalid e-mail address 'also bad'",
        "export.csv:1: no 'email' column (columns: mail)",
    ]


def test_validate_clean_sources(write: Write, workdir: Path) -> None:
    write("a.csv", "email\nann@example.com\n")
    config = {
        "providers": {"og": {"type": "ongage"}},
        "lists": {"one": {"provider": "og", "list_id": "1", "members": [{"csv": "a.csv"}]}},
        "suppressions": [{"inline": [{"email": "x@example.com", "reason": "bounce"}]}],
    }
    assert validate_sources(loaded(workdir, config)) == []
