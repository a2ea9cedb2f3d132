"""Renderers: the plan (and reports) as terminal text, JSON and Markdown. No other I/O."""
