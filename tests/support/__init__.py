"""Helpers the test suites (and bench/) share: databases, servers, the fake Viber API, clients."""
