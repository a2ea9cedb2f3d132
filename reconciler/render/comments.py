"""Split a Markdown plan into pull-request comments that each fit GitHub's size limit.

GitHub refuses a comment body over 65,536 characters. The plan's Markdown (``render.markdown``)
is a title, a summary, then one ``###`` section per list made of blocks: paragraphs, tables,
code blocks and ``<details>`` blocks. Comments are filled greedily with whole sections; a
section too big for what is left of a comment starts the next one; a section too big for any
comment is split between its blocks, repeating its heading marked "(continued)"; a block too
big for any comment (a ``<details>`` with a long table) is split between whole lines, closing
the table, code block and ``<details>`` at the end of one part and re-opening them at the start
of the next. The summary always opens the first comment. With more than one comment, each is
titled "… (part i of n)".

Sizes are counted in UTF-8 bytes, which is never less than the characters or UTF-16 units
GitHub may count, and each comment keeps some room for a marker line a bot adds to find its own
comments again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

GITHUB_LIMIT = 65_536
#: What a comment may use: GitHub's limit less room for a bot's marker line.
BUDGET = GITHUB_LIMIT - 536
DEFAULT_TITLE = "## reconciler plan"
CONTINUED = " (continued)"


def size(text: str) -> int:
    return len(text.encode("utf-8"))


# -- parsing ----------------------------------------------------------------------------------


@dataclass
class Section:
    heading: str  # the section's heading line, "" for the part before the first heading
    blocks: list[str] = field(default_factory=list)  # joined, they give the section's text

    @property
    def text(self) -> str:
        return "".join(self.blocks)


def _is_fence(line: str) -> bool:
    return line.lstrip().startswith(("```", "~~~"))


def _blocks(lines: list[str]) -> Iterable[str]:
    """Group lines into blocks that must not be cut: a fenced code block, a ``<details>``
    block (nested ones included), a table, a paragraph. Blank lines stay with the block
    before them, so that the blocks joined give back the text exactly."""
    i = 0
    while i < len(lines):
        start = i
        line = lines[i]
        if _is_fence(line):
            i += 1
            while i < len(lines) and not _is_fence(lines[i]):
                i += 1
            i += 1
        elif line.lstrip().startswith("<details"):
            depth = 0
            while i < len(lines):
                stripped = lines[i].lstrip()
                depth += stripped.startswith("<details") - stripped.startswith("</details>")
                i += 1
                if depth <= 0:
                    break
        elif line.startswith("|"):
            while i < len(lines) and lines[i].startswith("|"):
                i += 1
        elif line.strip() and not line.startswith("#"):
            while i < len(lines) and lines[i].strip() and not _starts_block(lines[i]):
                i += 1
        else:
            i += 1  # a heading, or a blank line at the very start
        while i < len(lines) and not lines[i].strip():
            i += 1
        yield "".join(lines[start:i])


def _starts_block(line: str) -> bool:
    return line.startswith(("|", "#")) or _is_fence(line) or line.lstrip().startswith("<details")


def parse(markdown: str) -> tuple[str, list[Section]]:
    """The title line (``""`` when the text does not start with a heading) and the sections:
    the summary before the first heading, then one per heading."""
    lines = markdown.splitlines(keepends=True)
    title = ""
    if lines and lines[0].startswith("#"):
        title = lines.pop(0).rstrip("\n")
        while lines and not lines[0].strip():
            lines.pop(0)
    sections = [Section("")]
    for block in _blocks(lines):
        if block.startswith("#"):
            sections.append(Section(block.splitlines()[0]))
        sections[-1].blocks.append(block)
    return title, [s for s in sections if s.blocks]


# -- splitting one block between lines --------------------------------------------------------


@dataclass
class _Open:
    """What is open after a line: re-opened at the start of the next part, closed at the end
    of this one."""

    details: list[str] = field(default_factory=list)
    fence: str | None = None
    table_header: list[str] = field(default_factory=list)
    in_table: bool = False

    def after(self, line: str) -> None:
        stripped = line.lstrip()
        if self.fence is not None:
            if _is_fence(line):
                self.fence = None
            return
        if _is_fence(line):
            self.fence = line
        elif line.startswith("|"):
            if not self.in_table:
                self.in_table, self.table_header = True, []
            if len(self.table_header) < 2:  # the header row and the delimiter row
                self.table_header.append(line)
        else:
            self.in_table = False
            if stripped.startswith("<details"):
                self.details.append(line)
            elif stripped.startswith("</details>") and self.details:
                self.details.pop()

    def copy(self) -> _Open:
        return _Open(list(self.details), self.fence, list(self.table_header), self.in_table)

    def closing(self) -> str:
        text = ""
        if self.fence is not None:
            text += self.fence.lstrip()[:3] + "\n"
        if self.in_table:
            text += "\n"
        return text + "".join("</details>\n\n" for _ in self.details)

    def reopening(self) -> str:
        text = "".join(_continued_details(opener) + "\n" for opener in self.details)
        if self.fence is not None:
            text += self.fence
        if self.in_table:
            text += "".join(self.table_header)
        return text


def _continued_details(opener: str) -> str:
    if "</summary>" in opener:
        return opener.replace("</summary>", f"{CONTINUED}</summary>", 1)
    return opener


def _truncate(line: str, budget: int) -> str:
    """A single line longer than a whole comment: cut it (never happens with the plan's
    Markdown, whose longest line is one table row)."""
    marker = " …(truncated)\n"
    data = line.encode("utf-8")[: max(0, budget - size(marker))]
    return data.decode("utf-8", errors="ignore") + marker


def split_block(block: str, budget: int, *, first: int | None = None) -> list[str]:
    """Cut ``block`` between whole lines into parts of at most ``budget`` bytes (the first
    part: at most ``first``), each a valid block: tables, code blocks and ``<details>``
    closed and re-opened around each cut."""
    lines = block.splitlines(keepends=True)
    parts: list[str] = []
    state = _Open()
    current = ""
    for i, line in enumerate(lines):
        limit = budget if parts or first is None else first
        after = state.copy()
        after.after(line)
        # A table's header row never ends a part: it needs its delimiter row with it.
        starts_table = after.in_table and not state.in_table
        ahead = lines[i + 1] if starts_table and i + 1 < len(lines) else ""
        if current and size(current + line + ahead + after.closing()) > limit:
            parts.append(current + state.closing())
            current, limit = state.reopening(), budget
        room = limit - size(current + ahead + after.closing())
        if size(line) > room:
            line = _truncate(line, room)
        current += line
        state = after
    if current:
        parts.append(current)
    return parts


# -- packing comments -------------------------------------------------------------------------

#: Below this much room left, an oversized block starts a new comment instead of filling it.
MIN_FILL = 4_096


class _Packer:
    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.comments: list[str] = []
        self.current = ""

    def flush(self) -> None:
        if self.current:
            self.comments.append(self.current)
        self.current = ""

    def fits(self, text: str) -> bool:
        return size(self.current + text) <= self.budget

    def add_section(self, section: Section) -> None:
        text = section.text
        if self.fits(text):
            self.current += text
        elif size(text) <= self.budget:
            self.flush()
            self.current = text
        else:
            self._add_blocks(section)

    def _add_blocks(self, section: Section) -> None:
        """A section bigger than a comment, block by block; its heading stays with the block
        after it, and each comment it continues in repeats the heading, marked continued."""
        blocks = list(section.blocks)
        if section.heading and len(blocks) > 1:
            blocks[:2] = [blocks[0] + blocks[1]]
        continued = f"{section.heading}{CONTINUED}\n\n" if section.heading else ""
        room = self.budget - size(continued)
        for n, block in enumerate(blocks):
            if self.fits(block):
                self.current += block
                continue
            left = self.budget - size(self.current)
            if size(block) <= room or left < MIN_FILL:
                self.flush()
                self.current = continued if n else ""
                left = self.budget - size(self.current)
            if size(block) <= left:
                self.current += block
                continue
            parts = split_block(block, room, first=left)
            self.current += parts[0]
            for part in parts[1:]:
                self.flush()
                self.current = continued + part


def _header(title: str, part: int, total: int) -> str:
    return f"{title} (part {part} of {total})\n\n"


def split_comments(markdown: str, *, budget: int = BUDGET) -> list[str]:
    """``markdown`` as one or more comment bodies of at most ``budget`` UTF-8 bytes each."""
    if size(markdown) <= budget:
        return [markdown]
    title, sections = parse(markdown)
    title = title or DEFAULT_TITLE
    # Room for the longest title any part could get; 9,999 parts is 650 MB of Markdown.
    body_budget = budget - size(_header(title, 9999, 9999))
    packer = _Packer(body_budget)
    for section in sections:
        packer.add_section(section)
    packer.flush()
    bodies = packer.comments
    return [
        _header(title, n, len(bodies)) + body.rstrip("\n") + "\n"
        for n, body in enumerate(bodies, start=1)
    ]


__all__ = ["BUDGET", "GITHUB_LIMIT", "parse", "split_block", "split_comments"]
