"""Data sets that several topics read (MNIST and its kin): loaders shared like ``models`` and ``search``."""
