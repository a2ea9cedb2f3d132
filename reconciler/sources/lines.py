"""What one fast pass over a file's bytes tells about its lines, without parsing it as CSV:
whether a row may span lines, how many lines there are, and where evenly spaced lines start.
Used to number large files in parts side by side and to count rows without reading them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_CHUNK = 1 << 22
_MARKS = 64  # newline counts kept per file, at evenly spaced byte offsets


@dataclass(frozen=True)
class LineScan:
    """What one fast pass over a file's bytes tells: whether a row may span lines (a quote
    character, or a carriage return not followed by a newline, which DuckDB takes for a line
    break), how many lines it has, how many end before evenly spaced byte offsets and, when
    asked, whether it has a blank line (DuckDB skips those in a file of several columns)."""

    size: int
    simple: bool  # no quote character, no bare carriage return
    lines: int = 0  # counting a last line without a newline
    # (byte offset just after a newline, lines ending before it), ascending
    marks: tuple[tuple[int, int], ...] = ()
    blank: bool | None = None  # None: not looked for

    @classmethod
    def of(cls, path: Path, *, blank_lines: bool = False) -> LineScan:
        size = path.stat().st_size
        step = max(_CHUNK, -(-size // _MARKS))
        marks: list[tuple[int, int]] = []
        lines = 0
        offset = 0
        last = tail = b""
        blank = False
        next_mark = step
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                if b'"' in chunk or ((b"\r" in chunk or last == b"\r") and bare_cr(last + chunk)):
                    return cls(size, False)
                if blank_lines and not blank:
                    window = tail + chunk
                    # "\n\r\n" is looked for only where there is a carriage return: each
                    # search costs as much as counting the lines.
                    blank = b"\n\n" in window or (
                        (b"\r" in chunk or last == b"\r") and b"\n\r\n" in window
                    )
                end = offset + len(chunk)
                while next_mark < end:
                    newline = chunk.find(b"\n", max(0, next_mark - offset))
                    if newline < 0:
                        break
                    marks.append((offset + newline + 1, lines + chunk.count(b"\n", 0, newline + 1)))
                    next_mark = offset + newline + 1 + step
                lines += chunk.count(b"\n")
                offset = end
                last, tail = chunk[-1:], chunk[-2:]
        unterminated = 1 if size and last != b"\n" else 0
        return cls(size, True, lines + unterminated, tuple(marks), blank if blank_lines else None)

    def rows(self, has_header: bool) -> int | None:
        """The data rows if every row is one line (where blank lines were not looked for, the
        caller must know there are none)."""
        return self.lines - (1 if has_header and self.lines else 0) if self.simple else None

    def lines_before(self, offset: int) -> int | None:
        """Lines ending before the first mark at or after ``offset``."""
        for at, lines in self.marks:
            if at >= offset:
                return lines
        return None


def bare_cr(window: bytes) -> bool:
    """A carriage return not followed by a newline (one that ends the window may be followed
    by one in the next)."""
    bare = window.count(b"\r") - window.count(b"\r\n")
    return bare > (1 if window.endswith(b"\r") else 0)
