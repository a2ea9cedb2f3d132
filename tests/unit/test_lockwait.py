"""Waiting for the state lock (``--lock-timeout``): the durations it takes, and the backoff
between tries, on a clock of the test's."""

from __future__ import annotations

import pytest

from reconciler.errors import StateLockedError
from reconciler.state.lockwait import LockWait, acquire, format_duration, parse_duration
from reconciler.state.store import LockInfo


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("0s", 0.0),
        ("30s", 30.0),
        ("2m", 120.0),
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("1h", 3600.0),
        ("1.5s", 1.5),
        (" 10s ", 10.0),
    ],
)
def test_durations_are_written_as_terraform_writes_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "s", "2 m", "-1s", "1d", "1m30", "abc"])
def test_anything_else_is_refused_with_examples(text: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_duration(text)
    assert str(exc.value) == f"{text.strip()!r} is not a duration such as 30s, 2m or 1m30s"


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.5, "500ms"), (1, "1s"), (90, "1m30s"), (120, "2m"), (3660, "1h1m")]
)
def test_a_duration_is_shown_as_the_flag_takes_it(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


class _Held:
    """A store whose lock is held for the first ``busy`` tries."""

    location = "st/state.json"

    def __init__(self, busy: int) -> None:
        self.busy = busy
        self.tries = 0

    def lock(self, operation: str) -> LockInfo:
        self.tries += 1
        if self.tries <= self.busy:
            raise StateLockedError(f"the state at {self.location} is locked by someone")
        return LockInfo(operation=operation)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(round(seconds, 3))
        self.now += seconds


def test_no_timeout_fails_at_once_with_the_backends_message() -> None:
    store, clock = _Held(busy=1), _Clock()
    with pytest.raises(StateLockedError) as exc:
        acquire(store, "apply", wait=LockWait(0), clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    assert str(exc.value) == "the state at st/state.json is locked by someone"
    assert (store.tries, clock.pauses) == (1, [])


def test_tries_again_with_doubling_pauses_up_to_two_seconds() -> None:
    store, clock = _Held(busy=7), _Clock()
    told: list[str] = []
    info = acquire(
        store,  # type: ignore[arg-type]
        "apply",
        wait=LockWait(60, notify=told.append),
        clock=clock,
        sleep=clock.sleep,
    )
    assert info.operation == "apply" and store.tries == 8
    assert clock.pauses == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    assert told == [
        "Waiting up to 1m for the lock: the state at st/state.json is locked by someone"
    ]


def test_the_last_try_is_at_the_deadline_then_the_error_says_how_long_it_waited() -> None:
    store, clock = _Held(busy=100), _Clock()
    with pytest.raises(StateLockedError) as exc:
        acquire(store, "apply", wait=LockWait(1), clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    assert str(exc.value) == (
        "waited 1s (--lock-timeout) for the lock: the state at st/state.json is locked by someone"
    )
    assert clock.pauses == [0.1, 0.2, 0.4, 0.3] and clock.now == pytest.approx(1.0)
    assert store.tries == 5
