"""Rasa server parts Rasa 3.6 lacks, named in config.yml and endpoints.yml by dotted path.

Importing this package, or any module in it, changes nothing of Rasa: the patches in
``custom_components.patches`` are installed only by their ``install()`` (see there).
"""
