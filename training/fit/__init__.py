"""Fitting: the staged, resumable training loop and what it watches.

- ``loss``: recall-weighted pixel loss, SSIM, Laplace NLL, auxiliary terms
- ``stages``: what each stage trains and its loss
- ``train``: the loop, checkpoints, validation selection (``fit``)
- ``monitor``: validation score and loss, sample figures
- ``distributed``: torchrun set-up; ``progress``: progress bars that log well
"""
