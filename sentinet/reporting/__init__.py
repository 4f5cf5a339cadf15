"""Runs side by side (sentinet report) and the pictures of training curves."""
