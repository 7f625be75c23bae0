"""Ranking: cases, manual passages, fusion, filters, feedback, calibration."""
