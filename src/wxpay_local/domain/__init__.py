"""Emulated WeChat Pay behaviour, pure: state machines, the ledger, the clock and the ids.

Nothing here knows about XML, HTTP or a database driver; storage is reached through ``ports``.
"""
