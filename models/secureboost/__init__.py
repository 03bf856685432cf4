"""Vertical SecureBoost: second-order gradient-boosted trees between a bank and the platform.

The bank (active party) holds the labels and the Paillier secret key and chooses every split;
the platform (passive party) bins its own features, builds encrypted histograms and keeps its
split thresholds private. See ``docs/secureboost.md`` for the protocol and what it reveals.

Modules
-------
binning      quantile bins with a dedicated missing bin
loss         logistic loss, gradients, metrics
tree         tree structure, JSON form and routing
splitter     best split from (g, h) histograms (role-agnostic)
grower       level-wise growth with the "build the smaller child, subtract" trick
engine       the boosting loop shared by the reference and the federated model
reference    plaintext GBDT of the same algorithm (lossless reference)
messages     wire messages of the protocol
passive      the platform's half (``algorithm = "secureboost"``)
active       the bank's half: :class:`SecureBoostClassifier`
model_io     two-part model files with digests
predict      federated prediction
"""
