"""API reference pages (Swagger UI) served by uacsta itself: the assets are
vendored (swagger-ui-dist 5.35.0, Apache-2.0, licence beside them), so the
pages work offline and no third-party script runs in the server's origin."""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(__file__).parent / "apidocs"
PREFIX = "/api-docs-assets"

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title}</title>
  <link rel="stylesheet" href="{prefix}/swagger-ui.css">
</head>
<body data-openapi="{openapi}">
  <div id="swagger-ui"></div>
  <script src="{prefix}/swagger-ui-bundle.js"></script>
  <script src="{prefix}/init.js"></script>
</body>
</html>
"""


def add_api_docs(app: FastAPI, *, docs_url: str, openapi_url: str, title: str) -> None:
    """Serve Swagger UI for ``openapi_url`` at ``docs_url`` (create the app
    with ``docs_url=None``)."""
    app.mount(PREFIX, StaticFiles(directory=ASSETS), name="api-docs-assets")
    page = PAGE.format(
        title=html.escape(title), prefix=PREFIX, openapi=html.escape(openapi_url, quote=True)
    )

    @app.get(docs_url, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page)
