"""The framework exercises of the notes (004, TensorFlow/Keras), in PyTorch: linear and nonlinear
regression, the perceptron and XOR, iris, and the MNIST classifiers, each observation checked."""
