"""The ``fedcredit`` command line."""
