"""Shared parts of the nodes' web consoles (issue 18): accounts, sessions, CSRF, messages,
templates and static assets. See ``docs/console.md``."""
