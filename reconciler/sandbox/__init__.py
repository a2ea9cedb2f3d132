"""The sandbox: an emulator of the four vendor APIs on one loopback port.

It backs the zero-credential quick start (``base_url: sandbox``) and every integration test.
``core`` holds what all vendors share (store, request log, fault injection, job pacing,
inspection); each vendor lives in its own module and registers under a path prefix.
"""
