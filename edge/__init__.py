"""AGLU edge runtime: QPI frames in, predicted DAPI out over ZeroMQ.

Never imports torch, ``training`` or ``export``: the acquisition-PC install stays
small and starts fast.
"""

__version__ = "0.3.1"
