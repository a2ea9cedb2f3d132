"""Apply: turn a plan into batched vendor jobs, tracked in the state's ledger."""
