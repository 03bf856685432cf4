"""Federated credit scorecards: binning, WOE/IV selection, WOE logistic regression, points.

Modules
-------
points   scaling (base score, PDO, odds at base score) and points tables
passive  the platform's half (``algorithm = "scorecard"``): binning + WOE LR + its points
active   the bank's estimator: :class:`FederatedScorecard`
"""
