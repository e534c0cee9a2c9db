"""The scale-out tests reuse the trained model of the end-to-end tests."""

from tests.e2e.conftest import model_path  # noqa: F401
