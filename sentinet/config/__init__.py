"""A config: typed dataclasses read from YAML, their fields, encoder options, paths and reference."""
