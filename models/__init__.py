"""Federated algorithms, crypto and PSI for fedcredit: a pure library (no gRPC, no protobuf)."""
