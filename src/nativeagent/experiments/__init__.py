"""Experiments over many runs: ``bench`` (algorithms x models over seeds) and ``sweep`` (Ray)."""
