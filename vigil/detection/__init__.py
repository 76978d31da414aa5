"""Regression detection: metrics, their tests, attribution to segments, one pass at a time.

Pure functions over columns: the store reads the rows (:mod:`vigil.store.detection`), the
``detect`` flow wires a pass to the database (:mod:`flows.detection`).
"""

from vigil.detection.data import OTHER, AppWindow, app_window, series
from vigil.detection.detector import Finding, detect
from vigil.detection.metrics import Limits, Metric

__all__ = ["OTHER", "AppWindow", "Finding", "Limits", "Metric", "app_window", "detect", "series"]
