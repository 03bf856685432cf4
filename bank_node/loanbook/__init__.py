"""The bank's loan book, its point-in-time features, and its labelled tables."""

from bank_node.loanbook.loader import load_bank_table

__all__ = ["load_bank_table"]
