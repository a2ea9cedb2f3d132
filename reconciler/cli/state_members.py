"""``reconciler state members LIST`` and ``reconciler state forget LIST``: what the state
remembers having applied to a list, and making it forget it
(Terraform's ``state rm``), whole or member by member — e.g. after removing members by hand at
a vendor that cannot remove them through its documented API."""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path

from reconciler.address import mask, normalise
from reconciler.apply.recording import merge_applied
from reconciler.engine.duck import connect
from reconciler.errors import StateError
from reconciler.model import Action
from reconciler.render.safe import terminal
from reconciler.state.applied import list_files, record_rows
from reconciler.state.blobs import Blobs, blobs_for
from reconciler.state.keys import state_salt
from reconciler.state.membership import (
    Form,
    form_of_journal,
    journals,
    membership_sql,
    open_files,
)
from reconciler.state.model import State
from reconciler.state.store import StateStore

SAMPLE = 5


def add_arguments(name: str, command: argparse.ArgumentParser) -> None:
    command.add_argument("list_name", metavar="LIST")
    if name == "members":
        command.add_argument(
            "--no-redact", action="store_true", help="show the sample's addresses in full"
        )
    if name == "forget":
        command.add_argument(
            "--member",
            action="append",
            metavar="EMAIL",
            help="forget only this member (repeatable); without it, the whole list",
        )


def _recorded(state: State | None, name: str, blobs: Blobs) -> State:
    if state is None or name not in state.lists:
        raise StateError(f"the state records no list {name!r}")
    if state.lists[name].applied is None and not journals(blobs, name):
        raise StateError(
            f"the state records no applied membership for list {name!r}: a list has one "
            "once an apply has sent it rows"
        )
    return state


def form_of(state: State, name: str, blobs: Blobs) -> Form:
    names = journals(blobs, name)
    if names:
        return form_of_journal(names[-1])
    ref = state.lists[name].applied
    return Form(ref.form) if ref is not None else Form.EMAIL


def run_members(args: argparse.Namespace, store: StateStore, scratch: Path) -> int:
    blobs = blobs_for(store)
    state = _recorded(store.read(), args.list_name, blobs)
    form = form_of(state, args.list_name, blobs)
    files = open_files(blobs, args.list_name, state.lists[args.list_name].applied, scratch, form)
    con = connect()
    try:
        sql = files.sql(con) if files is not None else membership_sql(None, [])
        counts = con.execute(
            f"SELECT status, count(*) FROM ({sql}) GROUP BY status ORDER BY status"
        ).fetchall()
        (owned,) = con.execute(f"SELECT count(*) FILTER (WHERE added) FROM ({sql})").fetchone()
        sample = [
            e
            for (e,) in con.execute(
                f"SELECT {form.column} FROM ({sql}) ORDER BY 1 LIMIT {SAMPLE}"
            ).fetchall()
        ]
    finally:
        con.close()
    total = sum(n for _, n in counts)
    detail = ", ".join(f"{n:,} {terminal(status)}" for status, n in counts)
    print(f"list {terminal(args.list_name)}: {total:,} member(s) applied ({detail or 'none'})")
    print(f"  {owned:,} of them added by reconciler (its own, for drop_scope: owned)")
    if form is Form.KEYED:
        # The vendor can be read: the state keeps keyed hashes, which name nobody.
        print("  kept as keyed hashes (the vendor can be read): no address to show")
        return 0
    for email in sample:
        print(f"  {terminal(email if args.no_redact else mask(email))}")
    if total > len(sample):
        print(f"  … and {total - len(sample):,} more")
    return 0


def run_forget(args: argparse.Namespace, store: StateStore, scratch: Path) -> int:
    blobs = blobs_for(store)
    with store.locked("state forget"):
        state = _recorded(store.read(), args.list_name, blobs)
        name = args.list_name
        if args.member:
            members = sorted({normalise(m) for m in args.member})
            entry = f"forget-{uuid.uuid4().hex[:12]}"
            keyed = form_of(state, name, blobs) is Form.KEYED
            salt = state_salt(blobs) if keyed else None
            record_rows(blobs, name, entry, Action.REMOVE, members, scratch, salt=salt)
            merged = merge_applied(state, blobs, scratch)
            store.write(state)  # names the new file; only then are the journals deleted
            for journal in merged:
                blobs.delete(journal)
            print(f"Forgot {len(members)} member(s) of list {terminal(name)}.")
            return 0
        for journal in journals(blobs, name):
            blobs.delete(journal)
        state.lists[name].applied = None
        store.write(state)
        for old in list_files(blobs, name):
            blobs.delete(old)
    print(
        f"Forgot what was applied to list {terminal(name)}: its next plan takes the vendor's "
        "list as unknown (every declared member an add)."
    )
    return 0
