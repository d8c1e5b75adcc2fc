"""`tutor serve`: run the chat UI, the HTTP API and the widget in one uvicorn process."""

from __future__ import annotations

import logging


def serve(host: str = "127.0.0.1", port: int = 7860, reload: bool = False) -> None:
    """Serve on http://HOST:PORT — chat at /, API docs at /docs, widget at /widget.js. Blocks until stopped."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    shown = f"[{host}]" if ":" in host else host
    logging.getLogger("ui").info(
        "课程助教 / course tutor on http://%s:%d  (chat /, API docs /docs, widget /widget.js)", shown, port
    )
    uvicorn.run(
        "ui.app:create_app", factory=True, host=host, port=port, reload=reload,
        reload_dirs=["ui", "tutor", "kb"] if reload else None,
        log_level="info", timeout_graceful_shutdown=5, limit_concurrency=512, timeout_keep_alive=5,
    )


if __name__ == "__main__":  # python -m ui.serve [host] [port]
    import sys

    serve(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 7860)
