"""The bank node: label and key holder, drives jobs, serves scores; also the ``fedcredit`` CLI."""

#: The package version (``pyproject.toml``; a test checks they agree). Kept here so that
#: ``fedcredit --version`` needs no package-metadata lookup.
__version__ = "0.1.0"
