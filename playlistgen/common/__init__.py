"""Foundations every layer may use: atomic file IO and its DataError, entry-point guards, request limits, params.yaml validation, CPU thread settings."""
