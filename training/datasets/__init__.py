"""Paired QPI/DAPI data: loaders per format behind one entry point, ``load_pairs``."""

from training.datasets.base import DataError, ImagePair
from training.datasets.load import load_pairs

__all__ = ["DataError", "ImagePair", "load_pairs"]
