"""The register: accounts, meters, subscribers and readings, and the rules in the utility's words.

Plain functions over a SQLAlchemy session (actions.register.db owns the engine); no rasa-sdk,
no dialogue, no operator tools (the import contracts in pyproject.toml check it).
"""
