"""listmonk's settings that change what the emulator does, with the values a fresh listmonk
seeds (listmonk v6.2.0, ``schema.sql`` lines 285-287), and what one bounce does under them
(``queries/bounces.sql`` lines 1-30, ``record-bounce``).

A seed changes them: ``{"listmonk": {"settings": {"bounce.webhooks_enabled": true, ...}}}``.
Real listmonk reads them at start-up; the emulator reads them on every request (a seed is its
only way to change them, so there is no restart to emulate)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULTS: dict[str, Any] = {
    "bounce.enabled": False,
    "bounce.webhooks_enabled": False,
    "bounce.actions": {
        "soft": {"count": 2, "action": "none"},
        "hard": {"count": 1, "action": "blocklist"},
        "complaint": {"count": 1, "action": "blocklist"},
    },
}
BOUNCE_TYPES = ("hard", "soft", "complaint")
BOUNCE_ACTIONS = ("none", "unsubscribe", "blocklist", "delete")


def check_settings(settings: Any) -> dict[str, Any]:
    """A seed's settings, validated (an unknown key or a wrong shape is the seed's mistake)."""
    if not isinstance(settings, Mapping):
        raise ValueError("listmonk seed: settings must be a mapping")
    checked: dict[str, Any] = {}
    for key, value in settings.items():
        if key not in DEFAULTS:
            raise ValueError(f"listmonk seed: unknown setting {key!r} (known: {sorted(DEFAULTS)})")
        if key == "bounce.actions":
            value = _check_actions(value)
        elif not isinstance(value, bool):
            raise ValueError(f"listmonk seed: setting {key} must be true or false")
        checked[key] = value
    return checked


def _check_actions(value: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(value, Mapping):
        raise ValueError("listmonk seed: bounce.actions must map a bounce type to its action")
    actions = {k: dict(v) for k, v in DEFAULTS["bounce.actions"].items()}
    for kind, spec in value.items():
        if kind not in BOUNCE_TYPES or not isinstance(spec, Mapping):
            raise ValueError(f"listmonk seed: bounce.actions has an unknown type {kind!r}")
        count, action = spec.get("count"), spec.get("action")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"listmonk seed: bounce.actions.{kind}.count must be 1 or more")
        if action not in BOUNCE_ACTIONS:
            raise ValueError(
                f"listmonk seed: bounce.actions.{kind}.action must be one of {BOUNCE_ACTIONS}"
            )
        actions[kind] = {"count": count, "action": action}
    return actions


def encode(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


@dataclass(frozen=True)
class BounceOutcome:
    """What ``record-bounce`` does for one bounce of a known subscriber."""

    record: bool  # the bounce is stored
    blocklist: bool  # the subscriber's status becomes blocklisted (subscriptions untouched)
    unsubscribe: bool  # every subscription of the subscriber becomes unsubscribed
    delete: bool  # the subscriber is deleted


def bounce_outcome(
    actions: Mapping[str, Mapping[str, Any]], kind: str, earlier: int, *, blocklisted: bool
) -> BounceOutcome:
    """``earlier`` is the subscriber's count of stored bounces of ``kind``. As in
    ``record-bounce``: the count includes this bounce; blocklisting and unsubscribing skip an
    already blocklisted subscriber; the bounce is stored unless the subscriber is blocklisted or
    the count is past the threshold; deleting happens at the threshold whatever the status."""
    spec = actions[kind]
    num, count, action = earlier + 1, int(spec["count"]), str(spec["action"])
    reached = num >= count
    return BounceOutcome(
        record=not blocklisted and num <= count,
        blocklist=action == "blocklist" and reached and not blocklisted,
        unsubscribe=action == "unsubscribe" and reached and not blocklisted,
        delete=action == "delete" and reached,
    )
