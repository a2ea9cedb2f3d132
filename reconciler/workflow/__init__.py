"""The workflow layer: what a command does, in order, with the state, the vendors and the
plan (``runtime`` starts the providers, the sandbox and staging; ``drift`` reads every vendor
and the state into a Drift). It prints nothing: the CLI parses arguments, calls it and
renders what it returns (README, "Project layout")."""
