"""Safety guards: refuse a plan whose size or whose current-state read looks like an accident
(``specs/safety.md``)."""
