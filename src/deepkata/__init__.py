"""deepkata: runnable, verified, reproducible implementations of the JDLA E-qualification
deep-learning curriculum (Day 3 and Day 4)."""

__version__ = "0.1.0"
