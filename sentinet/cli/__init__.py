"""The command line: one module per command family, each a thin layer over a library call."""
