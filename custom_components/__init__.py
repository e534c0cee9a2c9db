"""NLU components Rasa 3.6 lacks, loaded from config.yml by dotted path (Rasa server only)."""
