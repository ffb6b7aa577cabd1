"""Notification delivery: the outbox dispatcher and the judge of merchants' answers."""
