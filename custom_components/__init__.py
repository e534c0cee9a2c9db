"""Rasa server parts Rasa 3.6 lacks, loaded from config.yml and endpoints.yml by dotted path."""

from custom_components import action_fallback, speedups  # noqa: F401 - each applies itself on import
