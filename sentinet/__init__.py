"""sentinet: short-text sentiment classification over frozen word vectors."""

__version__ = "0.1.0"
