"""The notification-receiver probe (issue 14): does a merchant's notify_url cope?

``battery`` builds the notifications (pure), ``runner`` sends them and grades the answers.
Sits at the dispatcher's layer: an outbound HTTP client that knows the wire format.
"""
