"""The end-to-end tests share the session's real servers (tests/conftest.py starts them once)."""
