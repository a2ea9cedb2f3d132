"""apply's closing line: what was verified, never a silent success."""

from __future__ import annotations

from reconciler.cli.verify import NOT_VERIFIED, Verification


def test_every_list_read_back() -> None:
    assert Verification(read_back=["news", "vip"]).closing() == (
        "Verified: 2 list(s) read back from their vendors, nothing left to change ('news', 'vip')."
    )


def test_lists_whose_vendor_cannot_be_read_are_named() -> None:
    assert Verification(read_back=["news"], not_read=["leads"]).closing() == (
        "Verified: 1 list(s) read back from their vendors, nothing left to change ('news'); "
        "not read back: 'leads' (their vendors cannot be read)."
    )


def test_nothing_read_back_is_not_called_verified() -> None:
    assert Verification(not_read=["leads", "vip"]).closing() == (
        "Not verified: no list's vendor can be read back ('leads', 'vip')."
    )


def test_no_verify_says_so() -> None:
    assert (
        NOT_VERIFIED == "Not verified (--no-verify): `reconciler plan` compares the vendors again."
    )
