"""A database error that reaches a log (``logger.exception`` in the actions) shows the statement
but never its values: a subscriber's name, a message id, a reading."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from actions.register import db

NAME = "Олена Петренко-Кравчук"


@pytest.mark.parametrize(
    "url", ["sqlite:///:memory:", "postgresql+psycopg://otke@127.0.0.1:9/otke"], ids=["sqlite", "postgresql"]
)
def test_engines_hide_statement_parameters(url: str) -> None:
    assert db.make_engine(url).hide_parameters is True


def test_a_failed_statement_is_reported_without_its_values() -> None:
    engine = db.make_engine("sqlite:///:memory:")
    with pytest.raises(SQLAlchemyError) as failed, engine.connect() as connection:
        connection.execute(text("INSERT INTO no_such_table (display_name) VALUES (:name)"), {"name": NAME})
    assert "no_such_table" in str(failed.value)  # the statement is still there to debug with
    assert NAME not in str(failed.value)
