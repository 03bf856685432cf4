"""Federated binning, WOE/IV and IV-based feature selection (bank + platform).

Modules
-------
binner      quantile / equal-width cut points with a missing bin (each party, privately)
merge       supervised monotonic merge of fine bins ("optimal" binning)
woe         WOE and IV from per-bin counts (one function for federated and centralized)
transform   the WOE transform of selected features
messages    wire messages (encrypted labels in, encrypted per-bin event counts out)
passive     the platform's half (``algorithm = "binning"``)
active      the bank's side: :class:`FederatedBinning` (IV, selection, WOE exchange)
report      IV table and bar chart
"""
