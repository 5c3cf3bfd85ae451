"""The plain-language page for a resident or guardian: what is monitored about me, when,
why, on which basis, until when, and who can see it. Norwegian bokmål, short sentences."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from devices.localtime import DEFAULT_ZONE, zone
from hub.store.base import Resident
from rules.consent import BasisKind, LegalBasis, check_basis

BASIS_TEXT = {
    BasisKind.CONSENT: "Du har selv samtykket.",
    BasisKind.DECISION_4_6A: (
        "Vedtak etter pasient- og brukerrettighetsloven § 4-6 a: du kan ikke samtykke selv,"
        " og du motsetter deg ikke tiltaket."
    ),
    BasisKind.DECISION_4A: (
        "Vedtak etter pasient- og brukerrettighetsloven kapittel 4A: helsehjelp du motsetter deg."
    ),
    BasisKind.DECISION_HOL_9: (
        "Vedtak etter helse- og omsorgstjenesteloven kapittel 9, godkjent av Statsforvalteren."
    ),
}
ROLE_TEXT = {
    "nattevakt": "nattevakt",
    "staff": "personalet",
    "leader": "leder",
    "admin": "systemansvarlig",
    "auditor": "revisor",
    "tekniker": "teknisk hjelpemiddelservice",
}
STATE_TEXT = {
    "allowed": "i bruk",
    "outside_window": "i bruk (bare i tidsrommet under)",
    "not_yet_valid": "ikke startet ennå",
    "expired": "utløpt, ikke i bruk",
    "withdrawn": "trukket tilbake, ikke i bruk",
    "not_approved": "venter på Statsforvalterens godkjenning, ikke i bruk",
}
KIND_TEXT = {
    "door.opened": "at døren åpnes",
    "door.closed": "at døren lukkes",
    "bed.exit": "at du går ut av sengen",
    "bed.enter": "at du legger deg",
    "room.motion": "bevegelse i rommet",
    "room.no_motion": "at det er stille i rommet lenge",
    "fall.detected": "fall",
    "floor.person": "at noen ligger på gulvet",
    "gps.position": "hvor du er (GPS)",
    "geofence.exit": "at du går ut av et avtalt område",
    "geofence.enter": "at du kommer tilbake til et avtalt område",
    "stove.on": "at komfyren slås på",
    "stove.off": "at komfyren slås av",
    "stove.cutoff": "at komfyrvakten slår av komfyren",
}


def _date(value: datetime | None, tz_name: str) -> str | None:
    return None if value is None else value.astimezone(zone(tz_name)).strftime("%d.%m.%Y")


def monitoring_summary(
    resident: Resident, bases: list[LegalBasis], now: datetime, tz_name: str | None
) -> dict[str, Any]:
    tz_name = tz_name or DEFAULT_ZONE
    tz = zone(tz_name)
    measures = []
    for b in bases:
        state = check_basis(b, now, tz)
        measures.append(
            {
                "basis_id": b.id,
                "measure": b.measure,
                "what": sorted(KIND_TEXT.get(k, k) for k in b.kinds),
                "why": b.purpose or None,
                "basis": str(b.basis),
                "basis_text": BASIS_TEXT[b.basis],
                "reference": b.reference,
                "decided_by": b.decided_by,
                "when": [str(w) for w in b.windows] or ["hele døgnet"],
                "from": _date(b.valid_from, tz_name),
                "until": _date(b.valid_to, tz_name) or "til det blir endret",
                "next_review": _date(b.review_at, tz_name),
                "who_can_see": sorted(ROLE_TEXT.get(r, r) for r in b.visible_to),
                "kept_days": b.retention_days,
                "relatives_consulted": list(b.relatives_consulted),
                "status": STATE_TEXT.get(state, state),
                "in_force": state in ("allowed", "outside_window"),
            }
        )
    return {"resident_id": resident.id, "name": resident.name, "measures": measures}


def monitoring_html(summary: dict[str, Any]) -> str:
    rows = []
    for m in summary["measures"]:
        rows.append(
            "<section>"
            f"<h2>{escape(m['measure'])} – {escape(m['status'])}</h2><ul>"
            f"<li><b>Hva:</b> {escape(', '.join(m['what']))}</li>"
            f"<li><b>Når:</b> {escape(', '.join(m['when']))}</li>"
            f"<li><b>Hvorfor:</b> {escape(m['why'] or 'ikke oppgitt')}</li>"
            f"<li><b>Grunnlag:</b> {escape(m['basis_text'])} (ref. {escape(m['reference'])},"
            f" besluttet av {escape(m['decided_by'])})</li>"
            f"<li><b>Gjelder:</b> fra {escape(m['from'] or '')} {escape(m['until'])}</li>"
            f"<li><b>Neste gjennomgang:</b> {escape(m['next_review'] or 'ikke satt')}</li>"
            f"<li><b>Hvem kan se det:</b> {escape(', '.join(m['who_can_see']) or 'ingen')}</li>"
            f"<li><b>Hvor lenge lagres det:</b> {m['kept_days']} dager</li>"
            "</ul></section>"
        )
    body = "".join(rows) or "<p>Ingenting overvåkes hos deg.</p>"
    return (
        '<!doctype html><html lang="nb"><head><meta charset="utf-8">'
        "<title>Hva overvåkes hos meg</title></head><body>"
        f"<h1>Hva overvåkes hos {escape(summary['name'])}</h1>{body}"
        "<p>Du kan når som helst trekke samtykket tilbake, be om å få se hvem som har sett"
        " opplysningene dine (innsynslogg), eller klage. Snakk med lederen på enheten.</p>"
        "</body></html>"
    )
