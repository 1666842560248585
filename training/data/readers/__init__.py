"""Paired label-free/nuclear data: loaders per format behind one entry point.

- ``base``: ``ImagePair`` and ``DataError``; ``load``: ``load_pairs`` (by source kind)
- ``folders``, ``tiff``, ``omezarr``, ``ndtiff``: the formats
"""
