"""AGLU training: simulated/real paired data, the AGLU model, recall-weighted training."""
