"""Model monitoring on the bank: stability of the champion's scores (the bank's own data) and
of the platform's features (indices computed on the platform), per week, with alerts.

- :mod:`.scores`: the bank's score records, bucketed by ISO week;
- :mod:`.client`: the platform's ``MonitoringService`` (per-feature indices only);
- :mod:`.runner`: one monitoring run: indices, alert levels, MLflow metrics, report, audit.
"""
