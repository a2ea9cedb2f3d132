"""The plan engine: desired state and current state in, an immutable Plan out."""
