"""Deployment files and SQL migrations (package data)."""
