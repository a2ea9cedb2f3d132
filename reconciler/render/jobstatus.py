"""A vendor job's status for people: its words rather than a code, how far it got by the
vendor's own counters, and how long it may still take."""

from __future__ import annotations

from reconciler.providers.base import JobStatus
from reconciler.render.safe import terminal


def status_text(status: JobStatus) -> str:
    """``Processing (46%)`` for Ongage's 40002 at 46%; the vendor's word where it has no code
    (``importing (40%)``); made inert, as every vendor answer is."""
    words = terminal(status.words or status.vendor_status)
    return f"{words} ({percent(status.done)})" if status.done is not None else words


def percent(done: float) -> str:
    return f"{int(done * 100)}%"  # rounded down: 100% only when the vendor says all


def duration(seconds: float) -> str:
    """``45s``, ``1m12s``, ``2h05m``: short, and exact enough for a progress line."""
    whole = max(int(seconds), 0)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def eta(done: float | None, elapsed: float) -> str | None:
    """What is left at the pace so far, or None while the vendor reports nothing done (no
    pace to go by)."""
    if done is None or done <= 0 or done >= 1:
        return None
    return duration(elapsed * (1 - done) / done)
