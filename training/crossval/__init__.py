"""``aglu-train crossval``: cross-validation by experiment, scored per experiment, with floors.

folds (which experiments each fold tests, validates and trains on) -> runs (one
training run per recipe, fold and seed) -> score (per-field statistics of every
model and floor on each fold's held-out experiments) -> hierarchy (the headline
metrics and their bootstrap over experiments, fields and seeds) -> report.
``compare`` (``aglu-train compare``) is the same study over given model files, as one
fold.
"""
