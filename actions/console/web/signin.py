"""Sign-in and sign-out."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, g, redirect, render_template, request, session, url_for

from actions.console import staff
from actions.register import db

blueprint = Blueprint("signin", __name__)


def _safe_next(target: str | None) -> str | None:
    """Only a path on this console: never another site (open redirect)."""
    if not target or len(target) > 2000:
        return None
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
    ):
        return None
    return target


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        if g.user is not None:
            return redirect(url_for("home"))
        return render_template("login.html", error=None, name="")
    name = request.form.get("name", "")[:64]
    password = request.form.get("password", "")
    with db.transaction() as tx:
        signed_in = staff.sign_in(tx, name, password, request.remote_addr or "?")
    if isinstance(signed_in, str):
        return render_template("login.html", error=signed_in, name=name), 401
    session.clear()  # a new session id for the signed-in user (no fixation)
    session.permanent = True
    session["token"] = signed_in.token
    return redirect(_safe_next(request.args.get("next")) or url_for("home"))


@blueprint.route("/logout", methods=["POST"])
def logout() -> Any:
    token = session.get("token")
    if isinstance(token, str):
        with db.transaction() as tx:
            staff.sign_out(tx, token)
    session.clear()
    return redirect(url_for("signin.login"))
