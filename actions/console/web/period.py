"""Period (operators): registrations by channel, readings per day against the previous period,
coverage, refusals by reason, the meters still without a reading, and the billing export."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, TextIO

from flask import Blueprint, Response, g, render_template
from markupsafe import Markup
from sqlalchemy.orm import Session

from actions.console import dashboard
from actions.console.models import Role
from actions.console.staff import audit
from actions.console.web import CHANNELS, queries, require
from actions.operators.billing import export_readings
from actions.register import db
from actions.register.models import MeterKind

blueprint = Blueprint("period", __name__, url_prefix="/period")
KINDS = {MeterKind.HEAT: "опалення", MeterKind.HOT_WATER: "гаряча вода"}


@blueprint.route("/")
@require(Role.OPERATOR)
def page() -> Any:
    period = queries.period(dashboard.current_period())
    page_number = queries.page()
    with db.transaction() as tx:
        shown = dashboard.period_page(tx, period, page=page_number, page_size=queries.PAGE_SIZE)
    return render_template(
        "period.html",
        shown=shown,
        # built by dashboard.chart_svg from numbers and escaped texts only
        chart=Markup(shown.chart),  # noqa: S704
        channels=CHANNELS,
        kinds=KINDS,
        page=page_number,
        pages=shown.missing.pages,
    )


def _download(filename: str, write: Callable[[Session, str, TextIO], int], prefix: str = "") -> Response:
    """The period's file, written in one transaction and noted in the audit log."""
    period = queries.period(dashboard.current_period())
    out = io.StringIO()
    with db.transaction() as tx:
        rows = write(tx, period, out)
        audit(tx, g.user, "download", filename.format(period=period), f"{rows} rows")
    return Response(
        prefix + out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename.format(period=period)}"'},
    )


@blueprint.route("/missing.csv")
@require(Role.OPERATOR)
def missing_csv() -> Response:
    # a BOM: staff open this list in Excel, which reads UTF-8 without one as a legacy code page
    return _download("no-readings-{period}.csv", dashboard.write_missing_csv, prefix="\ufeff")


@blueprint.route("/export.csv")
@require(Role.OPERATOR)
def export_csv() -> Response:
    """The same file as `otke export-readings --period P`."""
    return _download("readings-{period}.csv", export_readings)
