"""The basics topic's katas: importing this module registers them."""
from deepkata.basics.katas import mnist_mlp  # noqa: F401
from deepkata.basics.katas import perceptron  # noqa: F401
from deepkata.basics.katas import iris  # noqa: F401
from deepkata.basics.katas import linear_regression  # noqa: F401
from deepkata.basics.katas import nonlinear_regression  # noqa: F401
