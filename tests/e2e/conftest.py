"""Browser fixtures for the page tests (defined in browser_support.py, registered here)."""

from browser_support import browser, desk, page, web

__all__ = ["browser", "desk", "page", "web"]
