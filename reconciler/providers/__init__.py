"""Vendor providers: one module per vendor behind the small interface in ``base``."""
