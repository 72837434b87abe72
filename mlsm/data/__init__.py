"""Degradation model and data sets."""
