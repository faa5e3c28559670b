"""The recurrent-network katas: importing this package registers them."""

from deepkata.rnn.katas import binary_addition, long_memory, rnn_options

__all__ = ["binary_addition", "long_memory", "rnn_options"]
