"""The embeddable widget: `GET /widget.js` (the one-tag loader any page includes), `GET /widget`
(the minimal chat page it frames), its two assets, and the small JSON helpers the page uses
(`GET /api/notes` for readable citation titles, `DELETE /api/sessions/{id}` for "new conversation").

/widget gets a strict Content-Security-Policy (scripts and connections to this server only) plus
`frame-ancestors` from `allowed_origins` (set by `ui.security.OriginMiddleware`).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response

from ui.api import SESSION_ID_PATTERN, get_runtime

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {"widget-app.js": "text/javascript; charset=utf-8", "widget.css": "text/css; charset=utf-8"}
WIDGET_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "font-src 'self'; base-uri 'none'; form-action 'none'"
)

router = APIRouter(tags=["widget"])


@router.get("/widget.js", include_in_schema=False)
async def widget_js() -> FileResponse:
    return FileResponse(
        STATIC / "widget.js", media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300", "Cross-Origin-Resource-Policy": "cross-origin"},
    )


@router.get("/widget", include_in_schema=False)
async def widget_page() -> FileResponse:
    return FileResponse(STATIC / "widget.html", media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"})


@router.get("/widget/assets/{name}", include_in_schema=False)
async def widget_asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise HTTPException(404, "not found")
    return FileResponse(STATIC / name, media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=300"})


@router.get("/api/notes")
async def notes(request: Request) -> dict:
    """Course-note titles by file name (what citations name)."""
    return {k: {"title": zh, "title_en": en} for k, (zh, en) in get_runtime(request).titles.items()}


@router.delete("/api/sessions/{session_id}", status_code=204, response_class=Response)
async def forget_session(session_id: str, request: Request) -> Response:
    """Forget a conversation now (it would expire by itself when idle)."""
    import re

    if not re.match(SESSION_ID_PATTERN, session_id):
        raise HTTPException(422, "invalid session_id")
    get_runtime(request).tutor.sessions.reset(session_id)
    return Response(status_code=204)
