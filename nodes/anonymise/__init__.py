"""Anonymisation: face-interior plans, least-similar candidate selection, privacy fail-safe (pure modules)."""
