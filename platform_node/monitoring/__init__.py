"""Model monitoring on the platform: the stability of its features over a bank's monitored
population, computed here; only per-feature index values go to the bank (:mod:`.service`)."""
