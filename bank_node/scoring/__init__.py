"""Scoring for credit officers: the bank's ``ScoringService`` and its parts.

An officer sends a USCC and the application (an application id or the bank-side fields); the
bank asks the platform for its part of the score (consent checked and audited there), then
assembles the probability of default, points, risk band and reason codes. See
``docs/scoring.md``.

Modules
-------
service          gRPC servicer and ``install(server, config)`` (roles: officer, bank)
engine           one request end to end (validation, model, features, platform, audit)
assembler        final score assembly for trees and linear models, points, bands, reasons
families         per-family adapters to the bank's model parts (SecureBoost, LR)
model_store      which model versions the bank serves (registry file, aliases)
features         the bank's own features of a company (table, loan book, request fields)
keys             the bank's in-memory scoring keys (Paillier: linear, CKKS: trees)
(the bank -> platform call is the gRPC ScoringPeer, bank_node/federation_client.py)
client           officer -> bank client (used by the CLI and the benchmark)
batch            files of USCCs in, CSV/Parquet of results out
settings         ``<data_dir>/scoring/settings.json``
"""
