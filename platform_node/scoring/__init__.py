"""The platform's part of scoring: ``PlatformScoringService`` for banks.

For every request the platform validates the USCC, checks the company's consent for the calling
bank (scope ``scoring``), loads its part of the named model and the company's current features,
and answers its part of the score: go-left decisions at its own splits (trees) or its partial
score encrypted under the bank's Paillier key (linear models), plus the names of its most
adverse feature categories. Every request is audited. See ``docs/scoring.md``.

Modules
-------
features     the company's feature row (cached per dataset, bank and as-of date)
trees        SecureBoost platform part: split lookup table -> decisions
linear       logistic-regression / scorecard platform part: encrypted partial score
parts        loading and caching the model parts, per family
scorer       the request logic (consent, audit, errors)
service      the gRPC servicer and ``install``
"""
