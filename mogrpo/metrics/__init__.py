"""Evaluation helpers: regression / ranking metrics and calibration reports of the reward regressor."""
