"""The wire layer shared by both nodes: protobuf codec, frames, status mapping, TLS and PKI.

Only the nodes import this package; ``models/`` never does.
"""
