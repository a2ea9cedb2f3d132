"""Data values made inert for where they are shown: a terminal, or Markdown on GitHub.

Everything a contributor writes into the repository and everything a vendor answers is hostile
input: reconciler runs in CI with vendor credentials and posts its Markdown into pull
requests. Renderers pass each *data value* (an address, a field, a reason, a consent text, a
list name or ID, a vendor's message) through one of these functions where they format it, so
the text reconciler writes around the values, colour codes included, stays as it is.

Every function here first masks the known secrets (:func:`reconciler.redact.scrub`): a value
is scrubbed before it is escaped, so no escaping can hide a secret from the mask.

The rules are in ``specs/markdown.md`` (Markdown) and ``specs/reliability.md`` (both).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from reconciler.redact import scrub

# C0 controls, DEL, C1 controls; the Unicode line and paragraph separators; the bidirectional
# controls (embeddings and overrides, isolates, the marks and Arabic's letter mark), which can
# make a terminal or a browser show text in another order than it has.
_OTHER_CONTROLS = r"\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c"
_CONTROL = re.compile(rf"[\x00-\x1f{_OTHER_CONTROLS}]")
_CONTROL_BUT_NEWLINE = re.compile(rf"[\x00-\x09\x0b-\x1f{_OTHER_CONTROLS}]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_control(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, newlines: bool = False) -> str:
    """``text`` with every control and bidirectional-control character shown as an escape
    (``\\x1b``, ``\\n``, ``\\u202e``); with ``newlines``, line feeds are kept as lines (a
    message whose lines are its structure). Other characters are unchanged."""
    pattern = _CONTROL_BUT_NEWLINE if newlines else _CONTROL
    return pattern.sub(_escape_control, text)


def terminal(value: Any) -> str:
    """A data value as one inert piece of a terminal line: scrubbed, controls escaped (a
    newline too, which could forge a line of reconciler's own)."""
    return visible(scrub(str(value)))


def terminal_lines(text: str) -> str:
    """A message of several lines for the terminal: scrubbed, controls escaped, its line feeds
    kept."""
    return visible(scrub(text), newlines=True)


# -- Markdown ---------------------------------------------------------------------------------

#: Characters that start or end Markdown syntax anywhere in a line, backslash-escaped: the
#: backslash itself (or data could cancel an escape), a code span, a table cell, a link, image
#: or footnote, strikethrough, math.
_BACKSLASHED = {c: "\\" + c for c in "\\`|[]~$"}
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_TABLE = str.maketrans({**_BACKSLASHED, **_HTML})
#: A zero-width space (as an entity, so the Markdown shows where it is) breaks what GitHub
#: links after rendering: a mention, an issue reference, a bare URL. Entities such as
#: ``&#64;`` do not: GitHub decodes them before it looks for mentions.
ZWSP = "&#8203;"
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z0-9]"
#: An ``@`` that is not an address's: one not between a local part and a dotted domain.
_MENTION = re.compile(rf"(?<![\w.%+*'-])@|@(?!{_DOMAIN})")
#: Where a reference to an issue (``#12``, ``owner/repo#12``, ``GH-12``) would start.
_REFERENCE = re.compile(r"(?<=#)(?=\d)|(?<=\b[Gg][Hh])(?=-\d)")
#: Inside what GitHub would turn into a link: ``https://…``, ``www.…``.
_URL = re.compile(r"(?<=:)(?=//)|(?<=\b[Ww]{3})(?=\.)")
#: ``_`` between two letters or digits never emphasises (CommonMark), as in ``first_name``.
_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
#: A masked address's stars (``j***@example.com``) follow a letter or digit and precede the
#: ``@``: they can close emphasis but never open it.
_STARS = re.compile(r"\*+")


def _star_run(masks: bool) -> Callable[[re.Match[str]], str]:
    def escape(match: re.Match[str]) -> str:
        text, start, end = match.string, match.start(), match.end()
        is_mask = (
            match.group() == "***"
            and start > 0
            and text[start - 1].isalnum()
            and text[end : end + 1] == "@"
        )
        return match.group() if masks and is_mask else "\\*" * (end - start)

    return escape


def markdown(value: Any, *, masks: bool = True) -> str:
    """A data value as inert Markdown text, safe in a table cell, a heading or a quote.

    Scrubbed; controls escaped as on the terminal (a newline cannot end a table row); ``&``,
    ``<``, ``>`` as HTML entities (no tag, comment or autolink); ``\\`` `` ` `` ``|`` ``[``
    ``]`` ``~`` ``$`` and emphasis ``*`` and ``_`` backslash-escaped; a zero-width space after
    an ``@`` that is not an address's, after ``#`` and ``GH`` before an issue number, and in a
    URL's ``://`` or ``www.``. With ``masks``, the stars of a masked address stay as they are;
    ordinary text (addresses, ``file:line``, ``first_name='Ann'``) is unchanged."""
    if value is None:
        return ""
    # Data's own backslashes are escaped before visible() writes its escapes (``\\x1b``), and
    # the zero-width spaces come last, after everything that could mistake their ``&#``.
    text = visible(scrub(str(value)).translate(_TABLE))
    text = _STARS.sub(_star_run(masks), text)
    text = _UNDERSCORE.sub("\\_", text)
    text = _REFERENCE.sub(ZWSP, text)
    text = _MENTION.sub("@" + ZWSP, text)
    return _URL.sub(ZWSP, text)


def code_span_text(value: Any) -> str:
    """A data value for inside a single-backtick code span (outside a table), where Markdown is
    not parsed: scrubbed, controls escaped, a backtick (which would end the span) as ``'``."""
    return visible(scrub(str(value))).replace("`", "'")


def html_value(value: Any) -> Any:
    """A value for jinja2's ``finalize`` in the HTML report: strings scrubbed and their
    controls escaped (autoescaping then escapes the HTML); markup and other values as they
    are."""
    from markupsafe import Markup

    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return visible(scrub(value))


__all__ = [
    "ZWSP",
    "code_span_text",
    "html_value",
    "markdown",
    "terminal",
    "terminal_lines",
    "visible",
]
