"""The platform's part of online scoring: policy and serving (no family code here).

For every request the platform validates each USCC, checks each company's consent for the
calling bank (scope ``scoring``), loads its part of the named model and the companies' current
features, and hands them to the model family's scoring part, which lives with its protocol in
``models/<family>/scoring.py`` (SecureBoost: EINI sealed margins; linear models: the partial
score encrypted under the bank's Paillier key). Every company of every request is audited.
See ``docs/scoring.md``.

Modules
-------
features     the companies' feature rows (cached per dataset, bank and as-of date)
parts        loading and caching the model parts, by family
scorer       the policy (USCC, consent, audit) and the family registry (one line per family)
service      the gRPC servicer and ``install``
"""
