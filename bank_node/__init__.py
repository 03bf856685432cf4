"""The bank node: label and key holder, drives jobs, serves scores; also the ``fedcredit`` CLI."""
