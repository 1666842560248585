"""Model architectures: plain nn.Modules shared by training, export and evaluation."""

from training.models.aglu import AGLU

__all__ = ["AGLU"]
