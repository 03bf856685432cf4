"""The printable one-page credit report (PDF) of one score, for the credit file.

Drawn with reportlab and its built-in CID font ``STSong-Light`` (Adobe's Chinese font
metrics; PDF readers supply the glyphs), so Chinese text needs no font file in the package.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FONT = "STSong-Light"
_registered = False


def _font() -> str:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        _registered = True
    return FONT


def _esc(text: Any) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_report(result: Mapping[str, Any], t: Callable[..., str]) -> bytes:
    """One A4 page: company, model, probability of default, points, band, reasons, who/when."""
    font = _font()
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=22, spaceAfter=6)
    body = ParagraphStyle("body", fontName=font, fontSize=10, leading=14)
    small = ParagraphStyle("small", fontName=font, fontSize=8, leading=11, textColor=colors.grey)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
        bottomMargin=16 * mm, title=t("report.title"), author=str(result.get("officer", "")),
    )  # fmt: skip
    facts = [
        (t("company.uscc"), result["uscc"]),
        (t("company.name"), result.get("name") or "-"),
        (t("score.pd"), f"{100 * float(result['pd']):.2f}%"),
        (t("score.points"), f"{float(result['score']):.0f}"),
        (t("score.band"), result["band"]),
        (
            t("score.model"),
            f"{result['model_name']}@{result['model_version']} ({result['family']})",
        ),
        (t("score.as_of"), result["as_of"]),
        (t("score.consent"), result["consent_id"]),
        (t("score.request"), result["request_id"]),
        (t("report.officer"), result.get("officer", "")),
        (t("report.time"), result.get("at", "")),
    ]
    grid = Table(
        [[Paragraph(_esc(k), body), Paragraph(_esc(v), body)] for k, v in facts],
        colWidths=[45 * mm, 125 * mm],
    )
    grid.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.lightgrey),
        ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
    ]))  # fmt: skip
    reasons = [
        [
            Paragraph(_esc(t(h)), body)
            for h in ("score.rank", "score.factor", "score.source", "score.direction")
        ]
    ]
    for r in result["reasons"]:
        reasons.append([
            Paragraph(str(r["rank"]), body),
            Paragraph(_esc(r["label"]), body),
            Paragraph(_esc(t("source." + r["source"])), body),
            Paragraph(_esc(t("score.raises")), body),
        ])  # fmt: skip
    rtable = Table(reasons, colWidths=[12 * mm, 98 * mm, 30 * mm, 30 * mm])
    rtable.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.lightgrey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
    ]))  # fmt: skip
    story = [
        Paragraph(_esc(t("report.title")), title),
        Paragraph(_esc(t("report.bank", bank=result.get("bank", ""))), body),
        Spacer(1, 5 * mm),
        grid,
        Spacer(1, 5 * mm),
        Paragraph(_esc(t("score.reasons")), body),
        Spacer(1, 2 * mm),
        rtable,
        Spacer(1, 6 * mm),
        Paragraph(_esc(t("report.note")), small),
    ]
    doc.build(story)
    return buf.getvalue()
