"""Period (operators): registrations by channel, readings per day against the previous period,
coverage, refusals by reason, the meters still without a reading, and the billing export."""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, Response, g, render_template
from markupsafe import Markup

from actions.console import dashboard
from actions.console.models import Role
from actions.console.staff import audit
from actions.console.web import queries, require
from actions.operators.billing import export_readings
from actions.register import db
from actions.register.models import MeterKind

blueprint = Blueprint("period", __name__, url_prefix="/period")
CHANNELS = {"viber": "Viber", "socketio": "веб-чат", "rest": "REST"}
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


def _csv(text: str, filename: str) -> Response:
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@blueprint.route("/missing.csv")
@require(Role.OPERATOR)
def missing_csv() -> Response:
    period = queries.period(dashboard.current_period())
    out = io.StringIO()
    with db.transaction() as tx:
        rows = dashboard.write_missing_csv(tx, period, out)
        audit(tx, g.user, "download", f"no-readings-{period}.csv", f"{rows} rows")
    # a BOM: staff open this list in Excel, which reads UTF-8 without one as a legacy code page
    return _csv("\ufeff" + out.getvalue(), f"no-readings-{period}.csv")


@blueprint.route("/export.csv")
@require(Role.OPERATOR)
def export_csv() -> Response:
    """The same file as `otke export-readings --period P`."""
    period = queries.period(dashboard.current_period())
    out = io.StringIO()
    with db.transaction() as tx:
        rows = export_readings(tx, period, out)
        audit(tx, g.user, "download", f"readings-{period}.csv", f"{rows} rows")
    return _csv(out.getvalue(), f"readings-{period}.csv")
