"""`create_app()`: one FastAPI application with one `Runtime` (one Tutor) per process — the HTTP API
(/api, /v1, OpenAPI docs at /docs), the embeddable widget (/widget.js, /widget) and the Gradio chat
UI mounted at `/` — wrapped in the origin policy and the request-body limits."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
from fastapi import FastAPI  # noqa: E402

from tutor import __version__  # noqa: E402
from tutor.config import Settings  # noqa: E402
from ui import api, openai_compat, widget  # noqa: E402
from ui.runtime import Runtime  # noqa: E402
from ui.security import BodyLimitMiddleware, OriginMiddleware, OriginPolicy  # noqa: E402
from ui.settings import UISettings  # noqa: E402

DESCRIPTION = """课程助教的 HTTP API / The course tutor's HTTP API.

* `POST /api/ask` — one answer as JSON (the same JSON as `tutor ask --json`).
* `POST /api/ask/stream` — server-sent events: `step`, `token`, `final`, `error`.
* `POST /v1/chat/completions` — OpenAI-compatible (streaming and not); model `course-tutor`.
* `GET /api/health` — model, index size, version, limits.

Limits: questions up to 2000 characters (413 beyond), a per-client rate limit (429 + Retry-After),
a request-body limit (413). Errors are `{"error": {"message", "type", "code"}, "detail"}`.
"""


def create_app(settings: Settings | None = None, ui_settings: UISettings | None = None, *, tutor=None, runtime: Runtime | None = None) -> FastAPI:
    """Build the whole service. Loads the tutor once (ingesting the shipped notes into an empty index)."""
    rt = runtime or Runtime(tutor=tutor, settings=settings, ui=ui_settings)
    app = FastAPI(title="课程助教 Course tutor API", version=__version__, description=DESCRIPTION,
                  docs_url="/docs", redoc_url="/redoc", openapi_url="/openapi.json")
    app.state.runtime = rt
    api.install_error_handlers(app)
    app.include_router(api.router)
    app.include_router(openai_compat.router)
    app.include_router(widget.router)

    from ui.chat import CSS, build_blocks, theme

    blocks = build_blocks(rt)
    app.state.blocks = blocks
    app = gr.mount_gradio_app(
        app, blocks, path="/", ssr_mode=False, theme=theme(), css=CSS, footer_links=["api"],
        show_error=True, max_file_size=rt.ui.max_ui_body_bytes, mcp_server=False,
    )
    policy = OriginPolicy(rt.ui.allowed_origins)
    app.add_middleware(BodyLimitMiddleware, api_limit=rt.ui.max_body_bytes, ui_limit=rt.ui.max_ui_body_bytes)
    app.add_middleware(OriginMiddleware, policy=policy, csp_overrides={"/widget": widget.WIDGET_CSP})
    return app
