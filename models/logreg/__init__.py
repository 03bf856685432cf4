"""Vertical logistic regression between a bank and the platform, in Paillier or CKKS mode.

The bank (active party) holds the labels and the secret key; the platform (passive party)
holds its features. Each party keeps its own weights; no per-row partial score, residual or
gradient is revealed to anyone: the sigmoid of the joint score is evaluated through a separable
expansion inside the encryption, the bank learns its own gradient block, the platform its own
(masked uniformly until the bank hands it back). No third party. See ``docs/logreg.md``.

Modules
-------
optim           hyper-parameters, schedules, per-party optimisers, the seeded batch plan
transform       per-party standardisation
separable       the separable expansion of the sigmoid (bank's coefficients, platform's basis)
paillier_terms  the Paillier layout of one batch (packed terms, combination, masks)
ckks_terms      the CKKS layout of one batch (coefficient-encoded inner products)
val_loss        the separable expansion of the validation log-loss (one scalar per epoch)
val_loss_terms  its Paillier and CKKS layouts (encrypted coefficients, summed, one result)
he              both modes behind one interface (and encrypted partial scores for prediction)
messages        wire messages of the protocol
stub            typed client of the platform's steps
engine          the bank's training loop
passive         the platform's half (``algorithm = "logreg"``)
active          the bank's estimator: :class:`FederatedLogisticRegression`
model_io        two-part model files with digests
"""
