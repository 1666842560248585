"""Evaluation: metrics, nuclei, floors, reports.

- ``metrics``: image metrics (Pearson r, SSIM, ...); ``nuclei``: matching and
  per-nucleus statistics (segmentation: ``training.data.segment``)
- ``score``: every metric of predictions on held-out fields (``aglu-train evaluate``)
- ``floors``: the no-learning floors; ``predictors``: predict functions of model files
- ``report``, ``plots``: report files of ``aglu-train evaluate``
"""
