"""Vertical logistic regression between a bank and the platform, in Paillier or CKKS mode.

The bank (active party) holds the labels and the secret key; the platform (passive party)
keeps its weights and computes its gradient block under the bank's key, masked before the bank
decrypts it. No third party. See ``docs/logreg.md`` for the protocol and what it reveals.

Modules
-------
optim        hyper-parameters, learning-rate schedules, per-party optimisers
transform    per-party standardisation
he           the homomorphic part for both modes (residuals, masked gradients, scores)
ckks_parallel the platform's flooded CKKS X^T d, off the request path in a helper process
messages     wire messages of the protocol
stub         typed client of the platform's steps
engine       the bank's training loop
passive      the platform's half (``algorithm = "logreg"``)
active       the bank's estimator: :class:`FederatedLogisticRegression`
model_io     two-part model files with digests
"""
