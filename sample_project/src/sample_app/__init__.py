"""tfjs-sample-app: a web page that runs bundled TF.js models."""

__version__ = "0.1.0"
