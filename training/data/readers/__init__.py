"""Paired QPI/DAPI data: loaders per format behind one entry point, ``load_pairs``."""

from training.data.readers.base import DataError, ImagePair
from training.data.readers.load import load_pairs

__all__ = ["DataError", "ImagePair", "load_pairs"]
