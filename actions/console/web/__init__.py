"""The console as a Flask application: sign-in, sessions, CSRF, roles, and the pages' blueprints."""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from flask import Flask, Response, abort, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from actions.console import index, masking, staff
from actions.console.models import Role, StaffUser
from actions.register import db
from actions.register.db import PROJECT_DIR

logger = logging.getLogger(__name__)
SECRET_FILE = PROJECT_DIR / "var" / "console-secret"
F = TypeVar("F", bound=Callable[..., Any])

CHANNELS = {"viber": "Viber", "socketio": "веб-чат", "rest": "REST"}
# where each role lands after signing in, and which pages it may open
HOME = {Role.OPERATOR: "period.page", Role.DESIGNER: "conversations.listing", Role.ADMIN: "period.page"}


def secret_key() -> str:
    """CONSOLE_SECRET_KEY; outside production, a random key kept in var/ across restarts."""
    key = os.environ.get("CONSOLE_SECRET_KEY", "").strip()
    if key:
        if len(key) < 32:
            raise RuntimeError("CONSOLE_SECRET_KEY must be at least 32 characters long")
        return key
    if os.environ.get("OTKE_PROFILE") == "production":
        raise RuntimeError("CONSOLE_SECRET_KEY is not set: the production console needs a secret of its own")
    SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
    if not SECRET_FILE.exists():
        SECRET_FILE.touch(mode=0o600)
        SECRET_FILE.write_text(secrets.token_urlsafe(48))
    return SECRET_FILE.read_text().strip()


def project_dir_setting() -> Path:
    """CONSOLE_PROJECT_DIR, or this checkout: where domain.yml and data/nlu are."""
    raw = os.environ.get("CONSOLE_PROJECT_DIR", "").strip()
    path = Path(raw) if raw else PROJECT_DIR
    if not (path / "domain.yml").is_file():
        raise RuntimeError(f"CONSOLE_PROJECT_DIR: no domain.yml in {path}")
    return path


def create_app(*, project_dir: Path | None = None, index_interval: float | None = 5.0) -> Flask:
    """The console. ``project_dir``: the project's files (domain.yml, data/nlu; default
    CONSOLE_PROJECT_DIR or this checkout); ``index_interval``: seconds between background index
    runs (None: none)."""
    project_dir = project_dir or project_dir_setting()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key(),
        SESSION_COOKIE_NAME="otke_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # HTTPS-only cookies in production (behind nginx with TLS); plain HTTP on localhost otherwise
        SESSION_COOKIE_SECURE=os.environ.get(
            "CONSOLE_SECURE_COOKIES", "1" if os.environ.get("OTKE_PROFILE") == "production" else "0"
        )
        == "1",
        PERMANENT_SESSION_LIFETIME=staff.MAX_AGE,
        MAX_CONTENT_LENGTH=64 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        PROJECT_DIR=project_dir,
    )
    CSRFProtect(app)
    proxies = os.environ.get("CONSOLE_PROXIES", "0")
    if not proxies.isdigit() or int(proxies) > 5:
        raise RuntimeError("CONSOLE_PROXIES must be the number of proxies in front of the console (0-5)")
    if int(proxies):
        # the client's address (sign-in limits) and scheme from nginx's X-Forwarded-* headers
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=int(proxies), x_proto=int(proxies))  # type: ignore[method-assign]
    from actions.console.web import audit, conversations, inbox, period, signin

    for blueprint in (
        signin.blueprint,
        period.blueprint,
        conversations.blueprint,
        inbox.blueprint,
        audit.blueprint,
    ):
        app.register_blueprint(blueprint)
    app.before_request(_refuse_nul)
    app.before_request(_load_user)
    app.after_request(_security_headers)
    app.register_error_handler(CSRFError, _csrf_refused)
    for code in (400, 403, 404, 405, 413):
        app.register_error_handler(code, _error_page)
    app.add_url_rule("/", "home", _home)
    app.add_url_rule("/healthz", "health", lambda: {"status": "ok"})
    app.jinja_env.globals["Role"] = Role
    app.jinja_env.filters["masked"] = masking.mask_text
    if index_interval:
        _start_indexer(index_interval)
    return app


def _refuse_nul() -> None:
    """A NUL in any parameter: PostgreSQL cannot even compare such text, so refuse it up front."""
    values = [*request.args.values(), *request.form.values()]
    if any("\x00" in value for value in values):
        refuse("Запит містить недопустимий символ (NUL).")


def _load_user() -> None:
    g.user = None
    if request.endpoint == "static":
        return
    token = session.get("token")
    if isinstance(token, str):
        with db.transaction() as tx:
            user = staff.session_user(tx, token)
            if user is not None:
                tx.expunge(user)
        g.user = user
        if user is None:
            session.clear()


def _security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"  # pages carry subscribers' data
    return response


def _home() -> Any:
    user = g.user
    if user is None:
        return redirect(url_for("signin.login"))
    return redirect(url_for(HOME[user.role]))


def _csrf_refused(error: CSRFError) -> tuple[str, int]:
    return render_template(
        "error.html",
        title="Форму відхилено",
        message="Форма застаріла або надіслана не з консолі (немає дійсного CSRF-токена). "
        "Оновіть сторінку й спробуйте ще раз.",
    ), 400


ERRORS = {
    400: ("Некоректний запит", "Запит містить некоректні дані."),
    403: ("Доступ заборонено", "Ця сторінка недоступна для Вашої ролі."),
    404: ("Не знайдено", "Такої сторінки або розмови немає."),
    405: ("Метод не дозволено", "Цю адресу не можна відкрити таким запитом."),
    413: ("Завеликий запит", "Надіслано забагато даних."),
}


def _error_page(error: Any) -> tuple[str, int]:
    code = getattr(error, "code", 500) or 500
    title, message = ERRORS.get(code, ("Помилка", "Щось пішло не так."))
    description = getattr(error, "description", None)
    if code == 400 and isinstance(description, str) and description.startswith("!"):
        message = description[1:]  # a refusal written for staff by our own code
    return render_template("error.html", title=title, message=message), code


def refuse(message: str) -> NoReturn:
    """Stop the request with 400 and a message written for staff."""
    abort(400, description="!" + message)


def require(*roles: Role) -> Callable[[F], F]:
    """Only signed-in staff of these roles (admins always); others go to sign-in or get 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            user: StaffUser | None = g.user
            if user is None:
                return redirect(url_for("signin.login", next=request.full_path.rstrip("?")))
            if user.role is not Role.ADMIN and user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


def _start_indexer(interval: float) -> None:
    def run() -> None:
        while True:
            try:
                index.index_events()
            except Exception:  # the pages still work from what is indexed; say so and go on
                logger.exception("Indexing the conversations failed; retrying in %.0f s", interval)
            time.sleep(interval)

    threading.Thread(target=run, name="console-indexer", daemon=True).start()
