"""The audit log (admins): who revealed personal data, labelled or dismissed inbox messages."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from sqlalchemy import func, select

from actions.console.models import AuditEntry, Role
from actions.console.web import queries, require
from actions.register import db
from actions.register.period import KYIV

blueprint = Blueprint("audit", __name__, url_prefix="/audit")


@blueprint.route("/")
@require(Role.ADMIN)
def listing() -> Any:
    page = queries.page()
    with db.transaction() as tx:
        total = tx.scalar(select(func.count()).select_from(AuditEntry)) or 0
        rows = tx.scalars(
            select(AuditEntry)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(queries.PAGE_SIZE)
            .offset((page - 1) * queries.PAGE_SIZE)
        ).all()
    return render_template(
        "audit.html",
        rows=rows,
        page=page,
        pages=max(1, -(-total // queries.PAGE_SIZE)),
        local=lambda moment: moment.astimezone(KYIV).strftime("%Y-%m-%d %H:%M:%S"),
    )
