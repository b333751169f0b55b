"""hatch-tfjs: a hatchling build hook that ships Keras/TensorFlow models as TensorFlow.js models."""

__version__ = "0.1.0"
