"""The recurrent-network katas: importing this package registers them."""

from deepkata.rnn.katas import binary_addition

__all__ = ["binary_addition"]
