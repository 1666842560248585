"""``aglu-edge soak``: many frames through the real daemon while its neighbours misbehave.

- ``run``: the soak loop, its samples (RSS, fds, threads) and verdict
- ``hostile``: the hostile neighbours of ``--hostile``: a sender of bad frames and
  malformed messages, NaN-model reloads, a Micro-Manager port that flaps
"""
