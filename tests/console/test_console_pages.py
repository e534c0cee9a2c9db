"""What the console's pages do for their people: filters, transcripts, the test story, the NLU
inbox from unsure message to data/nlu, the Period page and its files, and purging old
conversations. Flask's test client, the real PostgreSQL, a tracker store filled as Rasa fills it."""

from __future__ import annotations

import datetime as dt
import io
import re
from contextlib import nullcontext
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions.console import cli, index, staff, tracker
from actions.console.models import AuditEntry, Conversation, InboxMessage, InboxStatus, Role
from actions.console.web import create_app
from actions.operators.billing import export_readings
from actions.operators.demo import seed_demo
from actions.register import clock, db
from actions.register.period import period_of
from tests.console.conftest import PASSWORD, TrackerStore, csrf, signed_in
from tests.support.console import copy_project
from tests.support.tracker_events import action, bot, loop, session_start, slot, user

UNSURE = "а коли дадуть гарячу воду?"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's files the console may write to (data/nlu)."""
    return copy_project(tmp_path / "project")


@pytest.fixture
def app(tracker_store: TrackerStore, project: Path) -> Flask:
    with db.transaction() as session:
        seed_demo(session)
        for role in Role:
            staff.add_user(session, role.value, PASSWORD, role)
    return create_app(project_dir=project, index_interval=None)


@pytest.fixture
def talks(tracker_store: TrackerStore) -> TrackerStore:
    """Three conversations: a registration refused then cancelled (Viber), a reading saved (web
    chat), and two subscribers asking the same thing the model could not place."""
    tracker_store.write(
        "viber:anna",
        [
            *session_start(),
            user("Додати лічильник", "register_meter"),
            action("registration_form"),
            loop("registration_form"),
            user(
                "о/р 99999",
                "inform_number",
                entities=[
                    {
                        "entity": "account_number",
                        "value": "99999",
                        "start": 4,
                        "end": 9,
                        "extractor": "RegisterEntityExtractor",
                    }
                ],
            ),
            bot("Особовий рахунок 99999 не знайдено.", "utter_account_unknown"),
            user(UNSURE, "nlu_fallback", 0.3),
            action("action_deactivate_loop"),
            loop(None),
        ],
    )
    tracker_store.write(
        "socketio-b0b",
        [
            *session_start(),
            user("Передати показання", "submit_reading", channel="socketio"),
            action("reading_form"),
            loop("reading_form"),
            user("128,50", "inform_number", channel="socketio"),
            slot("reading_value", "128.50"),
            loop(None),
            bot("Прийнято 128.50 до обробки. Дякуємо", "utter_reading_accepted"),
        ],
    )
    tracker_store.write(
        "viber:cat", [*session_start(), user("А коли дадуть гарячу воду", "out_of_scope", 0.7)]
    )
    index.index_events()
    return tracker_store


def listed(client: FlaskClient, **filters: str) -> int:
    page = client.get("/conversations/", query_string=filters).get_data(as_text=True)
    found = re.search(r'<strong id="total">(\d+)</strong>', page)
    assert found, page[:400]
    return int(found.group(1))


def conversation_id(sender: str) -> int:
    with db.transaction() as session:
        found = session.scalar(select(Conversation.id).where(Conversation.sender_id == sender))
    assert found is not None
    return found


def test_conversations_filter_by_channel_problem_and_date(app: Flask, talks: TrackerStore) -> None:
    designer = signed_in(app, "designer")
    assert listed(designer) == 3
    assert listed(designer, channel="socketio") == 1
    assert listed(designer, channel="telegram") == 0
    assert listed(designer, problem="refused") == 1
    assert listed(designer, problem="unfinished") == 1
    assert listed(designer, problem="fallback") == 2
    assert listed(designer, problem="failure") == 0
    day = dt.datetime.fromtimestamp(talks.clock, dt.UTC).date()
    assert listed(designer, **{"from": day.isoformat(), "to": day.isoformat()}) == 3
    assert listed(designer, **{"to": (day - dt.timedelta(days=2)).isoformat()}) == 0


def test_a_transcript_shows_the_models_reading_and_the_form_steps(app: Flask, talks: TrackerStore) -> None:
    page = (
        signed_in(app, "designer")
        .get(f"/conversations/{conversation_id('viber:anna')}")
        .get_data(as_text=True)
    )
    assert "register_meter" in page and "inform_number" in page and "nlu_fallback" in page
    assert "0.30" in page  # the unsure message's confidence
    assert "account_number" in page  # the entity, its value masked
    assert "форма registration_form почалась" in page
    assert "action_deactivate_loop" in page
    assert "Рахунок не знайдено" in page  # the refusal, named
    assert "99999" not in page


def test_a_conversation_saved_as_a_test_story(app: Flask, talks: TrackerStore) -> None:
    answer = signed_in(app, "designer").get(f"/conversations/{conversation_id('viber:anna')}/story.yml")
    assert answer.status_code == 200
    assert "attachment" in answer.headers["Content-Disposition"]
    story = answer.get_data(as_text=True)
    assert (
        "stories:" in story
        and "intent: register_meter" in story
        and "active_loop: registration_form" in story
    )
    assert "99999" not in story  # the subscriber's numbers never reach a file meant for git


def inbox_groups(client: FlaskClient) -> list[str]:
    page = client.get("/inbox/").get_data(as_text=True)
    return re.findall(r'<q class="normalised">([^<]*)</q>', page)


def test_unsure_messages_are_grouped_labelled_and_leave_the_inbox(
    app: Flask, talks: TrackerStore, project: Path
) -> None:
    designer = signed_in(app, "designer")
    assert inbox_groups(designer) == ["а коли дадуть гарячу воду"]
    page = designer.get("/inbox/").get_data(as_text=True)
    assert "×2" in page
    form = {"normalised": "а коли дадуть гарячу воду", "csrf_token": csrf(designer, "/inbox/")}
    for intent, text, why in [
        ("nlu_fallback", "коли дадуть воду", "нема"),
        ("subscribed", "коли дадуть воду", "канал"),
        ("no_such_intent", "коли дадуть воду", "невідом"),
        ("contacts", "", "порожн"),
        ("contacts", "[гарячу](no_entity) воду", "сутн"),
        ("contacts", "рядок\nдругий", "рядок"),
    ]:
        answer = designer.post("/inbox/label", data={**form, "intent": intent, "text": text})
        assert answer.status_code == 400, (intent, text)
        assert inbox_groups(designer) == ["а коли дадуть гарячу воду"], why
    answer = designer.post(
        "/inbox/label",
        data={**form, "intent": "out_of_scope", "text": "а коли дадуть гарячу воду у квартиру"},
    )
    assert answer.status_code == 302
    assert inbox_groups(designer) == []
    again = designer.post("/inbox/label", data={**form, "intent": "out_of_scope", "text": "інше"})
    assert again.status_code == 400
    yaml_text = designer.get("/inbox/labelled.yml").get_data(as_text=True)
    assert "- intent: out_of_scope" in yaml_text and "а коли дадуть гарячу воду у квартиру" in yaml_text
    before = (project / "data/nlu/out_of_scope.yml").read_text(encoding="utf-8")
    assert designer.post("/inbox/apply", data={"csrf_token": csrf(designer, "/inbox/")}).status_code == 302
    after = (project / "data/nlu/out_of_scope.yml").read_text(encoding="utf-8")
    assert after != before and "- а коли дадуть гарячу воду у квартиру\n" in after
    designer.post("/inbox/apply", data={"csrf_token": csrf(designer, "/inbox/")})
    assert (project / "data/nlu/out_of_scope.yml").read_text(encoding="utf-8") == after  # no duplicate
    with db.transaction() as session:
        assert session.scalar(select(func.count()).where(InboxMessage.status == InboxStatus.LABELLED)) == 2
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["labelled", "apply_nlu", "apply_nlu"]


def test_a_dismissed_group_leaves_the_inbox_and_stays_out_of_the_yaml(
    app: Flask, talks: TrackerStore
) -> None:
    designer = signed_in(app, "designer")
    form = {"normalised": "а коли дадуть гарячу воду", "csrf_token": csrf(designer, "/inbox/")}
    assert designer.post("/inbox/dismiss", data=form).status_code == 302
    assert inbox_groups(designer) == []
    assert "гарячу" not in designer.get("/inbox/labelled.yml").get_data(as_text=True)
    assert designer.post("/inbox/dismiss", data={**form, "normalised": "x" * 300}).status_code == 400


def test_the_period_page_and_its_files(app: Flask, talks: TrackerStore, tmp_path: Path) -> None:
    operator = signed_in(app, "operator")
    page = operator.get("/period/").get_data(as_text=True)
    assert "<svg" in page and 'id="registered-meters"' in page
    refusals = page.split('id="refusals"')[1].split("</table>")[0]
    assert re.search(r"Рахунок не знайдено</td><td class=\"number\">1<", refusals), refusals
    period = period_of(clock.now())
    export = operator.get("/period/export.csv")
    assert export.status_code == 200
    out = io.StringIO()
    with db.transaction() as session:
        export_readings(session, period, out)
    assert export.get_data(as_text=True) == out.getvalue()  # the very file `otke export-readings` writes
    missing = operator.get("/period/missing.csv").get_data(as_text=True)
    assert missing.startswith("\ufeff")
    with db.transaction() as session:
        downloads = session.scalars(select(AuditEntry.target).where(AuditEntry.action == "download")).all()
    assert downloads == [f"readings-{period}.csv", f"no-readings-{period}.csv"]


def test_the_period_page_masks_account_and_meter_numbers(app: Flask, talks: TrackerStore) -> None:
    page = (
        signed_in(app, "operator").get("/period/", query_string={"period": "2026-11"}).get_data(as_text=True)
    )
    table = page.split('id="missing"')[1]
    for number in ["12345", "23456", "111111", "222222"]:
        assert number not in table


def test_purge_deletes_old_conversations_with_their_events_and_inbox(
    talks: TrackerStore, capsys: pytest.CaptureFixture[str]
) -> None:
    newest = dt.datetime.fromtimestamp(talks.clock, dt.UTC)
    talks.clock += 40 * 86400
    talks.write("viber:dan", [*session_start(), user("Привіт", "greet")])
    with clock.use(clock.fixed(newest + dt.timedelta(days=40, minutes=5))):
        assert cli.main(["conversations", "purge", "--older-than", "30"]) == 0
    assert "Видалено розмов: 3" in capsys.readouterr().out
    with db.transaction() as session:
        assert session.scalars(select(Conversation.sender_id)).all() == ["viber:dan"]
        assert session.scalar(select(func.count()).select_from(InboxMessage)) == 0
    with tracker.engine().connect() as connection:
        assert set(connection.scalars(select(tracker.events.c.sender_id).distinct())) == {"viber:dan"}


@pytest.mark.parametrize("days", ["0", "-5", "abc", "1e9"])
def test_purge_refuses_a_nonsense_age(talks: TrackerStore, days: str) -> None:
    with pytest.raises(SystemExit) if not days.lstrip("-").isdigit() else nullcontext():
        assert cli.main(["conversations", "purge", "--older-than", days]) == cli.EXIT_REFUSED
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Conversation)) == 3


def test_add_user_from_the_command_line(committed_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough secret\n"))
    assert cli.main(["console", "add-user", "olena", "--role", "operator", "--password-stdin"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert (
        cli.main(["console", "add-user", "petro", "--role", "designer", "--password-stdin"])
        == cli.EXIT_REFUSED
    )
    with db.transaction() as session:
        assert _names(session) == ["olena"]
    monkeypatch.setattr("sys.stdin", io.StringIO("another long secret\n"))
    assert cli.main(["console", "set-password", "olena", "--password-stdin"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("another long secret\n"))
    assert cli.main(["console", "set-password", "nobody", "--password-stdin"]) == cli.EXIT_REFUSED
    with db.transaction() as session:
        assert isinstance(staff.sign_in(session, "olena", "another long secret", "127.0.0.1"), staff.SignedIn)
        assert staff.sign_in(session, "olena", "a long enough secret", "127.0.0.1") == (
            "Невірне ім'я користувача або пароль"
        )


def _names(session: Session) -> list[str]:
    return list(session.scalars(select(staff.StaffUser.name)))
