"""Scoring: metrics, the evaluate stage report, the real-data check and the RecSys challenge format."""
