"""Command-line interface: one thin module per command; only this package prints or exits."""
