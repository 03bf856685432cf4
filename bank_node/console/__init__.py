"""The bank's web console (issue 18): credit officers, the head of risk (approver) and the
regulator, served by the bank node itself. See ``docs/console.md``."""
