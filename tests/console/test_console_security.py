"""The console's doors: sign-in, sessions, CSRF, roles, hostile parameters, masking and the audit
log, through Flask's test client on the real PostgreSQL (register and tracker store)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from actions.console import staff
from actions.console.models import AuditEntry, InboxMessage, LoginAttempt, Role, StaffSession
from actions.console.web import create_app
from actions.register import clock, db
from tests.console.conftest import PASSWORD, TrackerStore, csrf, signed_in
from tests.support.paths import ROOT
from tests.support.tracker_events import bot, session_start, user

HOSTILE = [
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "%00",
    "../../etc/passwd",
    "9" * 5000,
    "2026-13-45",
    "١٢",
]


@pytest.fixture
def app(tracker_store: TrackerStore) -> Flask:
    with db.transaction() as session:
        for role in Role:
            staff.add_user(session, role.value, PASSWORD, role)
    app = create_app(project_dir=ROOT, index_interval=None)
    app.config["TESTING"] = False  # CSRF and sessions exactly as in production
    return app


@pytest.fixture
def anna(tracker_store: TrackerStore) -> TrackerStore:
    """A conversation with an account number, an address in the answer and an unsure message."""
    tracker_store.write(
        "viber:ANNA-ID==",
        [
            *session_start(),
            user("мій рахунок 12345, телефон 067 123 45 67", "register_meter", 0.9),
            bot(
                "Знайдено: лічильник гарячої води № 222222, особовий рахунок 12345, адреса: вул. Шевченка, 10, кв. 5.",
                "utter_meter_found",
            ),
            user("а коли дадуть гарячу воду?", "nlu_fallback", 0.3),
        ],
    )
    return tracker_store


@pytest.fixture
def designer(app: Flask) -> FlaskClient:
    return signed_in(app, "designer")


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    return signed_in(app, "admin")


PAGES = ["/period/", "/conversations/", "/inbox/", "/audit/", "/conversations/1", "/inbox/labelled.yml"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_without_sign_in_goes_to_the_sign_in_page(app: Flask, path: str) -> None:
    answer = app.test_client().get(path)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login?next=")


def test_a_wrong_password_is_refused_and_recorded(app: Flask) -> None:
    client = app.test_client()
    answer = client.post("/login", data={"name": "designer", "password": "wrong", "csrf_token": csrf(client)})
    assert answer.status_code == 401
    assert "Невірне ім&#39;я користувача або пароль" in answer.get_data(as_text=True)
    assert client.get("/conversations/").status_code == 302
    with db.transaction() as session:
        assert session.scalar(select(func.count()).where(LoginAttempt.succeeded.is_(False))) == 1
        assert session.scalar(select(func.count()).select_from(StaffSession)) == 0


def test_sign_in_attempts_are_limited_even_with_the_right_password(app: Flask) -> None:
    client = app.test_client()
    token = csrf(client)
    for _ in range(staff.FAILURES_PER_NAME):
        client.post("/login", data={"name": "designer", "password": "wrong", "csrf_token": token})
    answer = client.post("/login", data={"name": "designer", "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 401
    assert "Забагато невдалих спроб" in answer.get_data(as_text=True)
    # another name from the same address is not locked out by these five
    assert signed_in(app, "operator").get("/period/").status_code == 200


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_a_form_without_a_valid_csrf_token_is_refused(app: Flask, token: str | None) -> None:
    client = app.test_client()
    csrf(client)  # the session has a token; the form does not carry it
    data = {"name": "designer", "password": PASSWORD}
    if token is not None:
        data["csrf_token"] = token
    answer = client.post("/login", data=data)
    assert answer.status_code == 400
    assert "CSRF" in answer.get_data(as_text=True)
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(StaffSession)) == 0


def test_a_token_from_another_session_is_refused(
    app: Flask, designer: FlaskClient, anna: TrackerStore
) -> None:
    other = signed_in(app, "designer")
    foreign = csrf(other, "/inbox/")
    answer = designer.post(
        "/inbox/dismiss", data={"normalised": "а коли дадуть гарячу воду", "csrf_token": foreign}
    )
    assert answer.status_code == 400
    with db.transaction() as session:
        assert session.scalar(select(func.count()).where(InboxMessage.status != "open")) == 0


@pytest.mark.parametrize(
    ("name", "allowed", "refused"),
    [
        ("operator", ["/period/"], ["/conversations/", "/inbox/", "/audit/", "/inbox/labelled.yml"]),
        ("designer", ["/conversations/", "/inbox/"], ["/period/", "/audit/", "/period/export.csv"]),
        ("admin", ["/period/", "/conversations/", "/inbox/", "/audit/"], []),
    ],
)
def test_roles_are_enforced_on_the_server(
    app: Flask, anna: TrackerStore, name: str, allowed: list[str], refused: list[str]
) -> None:
    client = signed_in(app, name)
    for path in allowed:
        assert client.get(path).status_code == 200, path
    for path in refused:
        answer = client.get(path)
        assert answer.status_code == 403, path
        assert "недоступна для Вашої ролі" in answer.get_data(as_text=True)


def test_a_designer_cannot_reveal(designer: FlaskClient, anna: TrackerStore) -> None:
    designer.get("/conversations/")
    answer = designer.post(
        "/conversations/1/reveal", data={"reason": "цікаво", "csrf_token": csrf(designer, "/inbox/")}
    )
    assert answer.status_code == 403


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("parameter", ["page", "channel", "problem", "from", "to"])
def test_hostile_list_parameters_are_refused_clearly(
    designer: FlaskClient, parameter: str, value: str
) -> None:
    answer = designer.get("/conversations/", query_string={parameter: value})
    assert answer.status_code == 400
    assert "Некоректний запит" in answer.get_data(as_text=True)
    assert "<script>alert" not in answer.get_data(as_text=True)


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_periods_are_refused(app: Flask, value: str) -> None:
    answer = signed_in(app, "operator").get("/period/", query_string={"period": value})
    assert answer.status_code == 400


def test_unknown_conversations_and_paths_are_not_found(designer: FlaskClient) -> None:
    for path in ["/conversations/999999", "/conversations/-1", "/conversations/1%27%20OR%201=1", "/nothing"]:
        assert designer.get(path).status_code == 404, path


def test_the_sign_in_page_never_redirects_elsewhere(app: Flask) -> None:
    client = app.test_client()
    for target in ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"]:
        answer = client.post(
            "/login",
            query_string={"next": target},
            data={"name": "designer", "password": PASSWORD, "csrf_token": csrf(client)},
        )
        assert answer.headers["Location"] == "/", target
        client.post("/logout", data={"csrf_token": csrf(client, "/inbox/")})


def test_pages_show_personal_data_masked(designer: FlaskClient, anna: TrackerStore) -> None:
    listing = designer.get("/conversations/").get_data(as_text=True)
    assert "ANNA-ID" not in listing
    page = designer.get("/conversations/1").get_data(as_text=True)
    for secret in ["12345", "222222", "067 123 45 67", "Шевченка", "ANNA-ID"]:
        assert secret not in page, secret
    assert "register_meter" in page  # the model's reading stays visible
    assert "а коли дадуть гарячу воду?" in page


def test_an_admin_reveals_one_conversation_and_it_is_audited(admin: FlaskClient, anna: TrackerStore) -> None:
    admin.get("/conversations/")
    token = csrf(admin, "/conversations/1")
    refused = admin.post("/conversations/1/reveal", data={"reason": "", "csrf_token": token})
    assert refused.status_code == 400
    assert "причину" in refused.get_data(as_text=True)
    answer = admin.post(
        "/conversations/1/reveal", data={"reason": "звернення абонента 4471", "csrf_token": token}
    )
    assert answer.status_code == 302
    page = admin.get("/conversations/1").get_data(as_text=True)
    assert "12345" in page
    assert "Шевченка" in page
    with db.transaction() as session:
        [entry] = session.scalars(select(AuditEntry)).all()
    assert (entry.user_name, entry.action, entry.target, entry.detail) == (
        "admin", "reveal", "conversation 1", "звернення абонента 4471",
    )  # fmt: skip
    assert "звернення абонента 4471" in admin.get("/audit/").get_data(as_text=True)


def test_sessions_expire_when_idle(app: Flask, designer: FlaskClient) -> None:
    assert designer.get("/conversations/").status_code == 200
    with clock.use(clock.fixed(clock.now() + staff.IDLE + dt.timedelta(minutes=1))):
        assert designer.get("/conversations/").status_code == 302
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(StaffSession)) == 0


def test_sign_out_ends_the_session_on_the_server(designer: FlaskClient) -> None:
    cookie = designer.get_cookie("otke_console")
    assert cookie is not None
    designer.post("/logout", data={"csrf_token": csrf(designer, "/inbox/")})
    replay = designer.application.test_client()
    replay.set_cookie("otke_console", cookie.value)
    assert replay.get("/conversations/").status_code == 302


def test_pages_carry_security_headers(designer: FlaskClient) -> None:
    answer = designer.get("/conversations/")
    assert "default-src 'self'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Cache-Control"] == "no-store"
    links = re.findall(r'(?:src|href)="([^"]*)"', answer.get_data(as_text=True))
    assert links and all(link.startswith(("/", "?")) and not link.startswith("//") for link in links), links


def test_the_session_cookie_is_http_only_and_same_site(app: Flask) -> None:
    client = app.test_client()
    answer = client.post(
        "/login", data={"name": "designer", "password": PASSWORD, "csrf_token": csrf(client)}
    )
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_add_user_refuses_weak_or_hostile_input(tracker_store: TrackerStore) -> None:
    with db.transaction() as session:
        for name, password in [
            ("Admin", PASSWORD),
            ("a", PASSWORD),
            ("x'; drop", PASSWORD),
            ("ok.name", "short"),
        ]:
            with pytest.raises(staff.StaffError):
                staff.add_user(session, name, password, Role.DESIGNER)
        staff.add_user(session, "ok.name", PASSWORD, Role.DESIGNER)
        with pytest.raises(staff.StaffError, match="уже є"):
            staff.add_user(session, "ok.name", PASSWORD, Role.ADMIN)
        hashed = session.scalar(
            select(staff.StaffUser.password_hash).where(staff.StaffUser.name == "ok.name")
        )
    assert hashed is not None and hashed.startswith("$argon2id$") and PASSWORD not in hashed


@pytest.mark.parametrize(
    "name",
    ["' OR '1'='1", "admin'--", "<img src=x onerror=alert(1)>", "a" * 10_000, "адмін"],
)
def test_hostile_sign_in_names_are_refused_like_any_wrong_name(app: Flask, name: str) -> None:
    client = app.test_client()
    answer = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": csrf(client)})
    assert answer.status_code == 401
    page = answer.get_data(as_text=True)
    assert "Невірне ім&#39;я користувача або пароль" in page
    assert "<img src=x" not in page
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(StaffSession)) == 0


def test_a_huge_form_is_refused_before_it_is_read(app: Flask) -> None:
    client = app.test_client()
    answer = client.post("/login", data={"name": "x" * 100_000, "password": "y", "csrf_token": csrf(client)})
    assert answer.status_code == 413
    assert "Завеликий запит" in answer.get_data(as_text=True)


def test_a_hostile_reveal_reason_is_kept_as_text(admin: FlaskClient, anna: TrackerStore) -> None:
    admin.get("/conversations/")
    reason = "<script>alert('x')</script> '; DROP TABLE staff_users; --"
    token = csrf(admin, "/conversations/1")
    assert (
        admin.post("/conversations/1/reveal", data={"reason": reason, "csrf_token": token}).status_code == 302
    )
    page = admin.get("/audit/").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(staff.StaffUser)) == 3
    too_long = admin.post("/conversations/1/reveal", data={"reason": "x" * 501, "csrf_token": token})
    assert too_long.status_code == 400


def test_revealing_is_for_one_conversation_and_not_for_long(admin: FlaskClient, anna: TrackerStore) -> None:
    anna.write("viber:BOB-ID==", [*session_start(), user("мій рахунок 23456", "register_meter")])
    admin.get("/conversations/")
    admin.post(
        "/conversations/1/reveal",
        data={"reason": "звернення абонента", "csrf_token": csrf(admin, "/conversations/1")},
    )
    assert "23456" not in admin.get("/conversations/2").get_data(as_text=True)
    assert "12345" in admin.get("/conversations/1").get_data(as_text=True)
    from actions.console.web import conversations

    with clock.use(clock.fixed(clock.now() + dt.timedelta(minutes=conversations.REVEAL_MINUTES, seconds=1))):
        assert "12345" not in admin.get("/conversations/1").get_data(as_text=True)


def test_a_nul_anywhere_is_refused_and_changes_nothing(designer: FlaskClient, anna: TrackerStore) -> None:
    designer.get("/inbox/")
    token = csrf(designer, "/inbox/")
    stranger = designer.application.test_client()
    for answer in [
        stranger.post(
            "/login", data={"name": "admin\x00", "password": PASSWORD, "csrf_token": csrf(stranger)}
        ),
        designer.get("/conversations/", query_string={"channel": "vi\x00ber"}),
        designer.post("/inbox/dismiss", data={"normalised": "а коли\x00", "csrf_token": token}),
        designer.post(
            "/inbox/label",
            data={
                "normalised": "а коли дадуть гарячу воду",
                "intent": "contacts",
                "text": "x\x00",
                "csrf_token": token,
            },
        ),
    ]:
        assert answer.status_code == 400
        assert "NUL" in answer.get_data(as_text=True)
    with db.transaction() as session:
        assert session.scalar(select(func.count()).where(InboxMessage.status != "open")) == 0
