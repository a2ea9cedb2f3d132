"""The state: what reconciler has done (the job ledger) and seen (export fingerprints).

Three layers, as in Terraform: the in-memory model (``model``), the file format read through
an upgrade chain (``model.parse_state``), and storage with locking behind a small interface
(``store.StateStore``: ``local.LocalStateStore``, a file; ``s3.S3StateStore``, an S3 object
locked with a conditional write; ``open.open_store`` picks one from the configuration).
"""

from reconciler.state.model import JobEntry, State
from reconciler.state.store import LockInfo, StateStore

__all__ = ["JobEntry", "LockInfo", "State", "StateStore"]
