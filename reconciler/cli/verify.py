"""After apply: read the vendors again and say what was verified, in one closing line, or what
still differs. A silent success would not tell "verified" from "not looked at"."""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.config.loader import LoadedConfig
from reconciler.engine.planner import build_plan
from reconciler.model import ChangeKind
from reconciler.workflow.runtime import Runtime

#: Where a list's current state comes from when its vendor cannot be read back: comparing it
#: again would compare the state with itself.
UNREADABLE = ("unknown", "applied")


@dataclass
class Verification:
    differences: list[str] = field(default_factory=list)  # one line per list that differs
    read_back: list[str] = field(default_factory=list)  # lists read again and compared
    not_read: list[str] = field(default_factory=list)  # lists whose vendor cannot be read

    def closing(self) -> str:
        """What was verified, when nothing differs (the differences say it otherwise)."""
        skipped = (
            f"; not read back: {_names(self.not_read)} (their vendors cannot be read)"
            if self.not_read
            else ""
        )
        if not self.read_back:
            return f"Not verified: no list's vendor can be read back ({_names(self.not_read)})."
        return (
            f"Verified: {len(self.read_back)} list(s) read back from their vendors, nothing "
            f"left to change ({_names(self.read_back)}){skipped}."
        )


NOT_VERIFIED = "Not verified (--no-verify): `reconciler plan` compares the vendors again."


def verify(loaded: LoadedConfig, runtime: Runtime, targets: list[str] | None) -> Verification:
    """Re-read the vendors and compare them with the configuration."""
    plan = build_plan(loaded, targets=targets, vendors=runtime)
    result = Verification()
    for lp in plan.lists:
        if lp.current is not None and lp.current.kind in UNREADABLE:
            result.not_read.append(lp.name)
            continue
        result.read_back.append(lp.name)
        left = {
            k: n
            for k, n in lp.counts.items()
            if n and k is not ChangeKind.HELD and all(g.action is not k for g in lp.gaps)
        }
        if left:
            text = ", ".join(f"{n:,} {k.value}" for k, n in left.items())
            result.differences.append(
                f"  list {lp.name!r} still differs from the configuration: {text}"
            )
    return result


def _names(names: list[str]) -> str:
    return ", ".join(repr(name) for name in names)
