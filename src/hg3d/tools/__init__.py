"""Converters from official dataset releases into the layouts the loaders read."""
