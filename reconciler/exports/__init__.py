"""Current vendor state read from export files (the providers read it live in apply)."""
