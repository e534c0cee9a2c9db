"""Input channels Rasa 3.6 lacks, loaded from credentials.yml by dotted path.

They speak channel protocols only: they never touch the database and never import `actions`.
"""
