"""The storefront's pages and their files, and /docs served from this process.

No build step and no framework: two HTML pages, their scripts and one stylesheet, read from
`static/` next to this module; Swagger UI's files come from the `swagger-ui-bundle-v2` package,
so /docs works without internet. Only the files named here are served, by name.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from starlette.exceptions import HTTPException
from swagger_ui_bundle import swagger_ui_path

STATIC = Path(__file__).resolve().parent / "static"
SWAGGER_UI = Path(str(swagger_ui_path))
HTML = "text/html; charset=utf-8"

STATIC_FILES = {
    name: STATIC / name for name in ("storefront.css", "shop.js", "order.js", "docs.js")
}
DOCS_ASSETS = {
    name: SWAGGER_UI / name
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")
}

router = APIRouter(include_in_schema=False)


def page(name: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type=HTML)


def order_page() -> FileResponse:
    """The HTML of an order's page (GET /orders/{id} when the browser asks for HTML)."""
    response = page("order.html")
    response.headers["Cache-Control"] = "no-store"
    return response


def prefers_html(request: Request) -> bool:
    """Does the client rank text/html above JSON? Browsers navigating to a page do; fetch(),
    curl and HTTP libraries send `*/*` or ask for JSON, and get the JSON they always got."""
    ranks = _accepted(request.headers.get("accept", ""))
    html = ranks.get("text/html", 0.0)
    return html > 0 and html > ranks.get("application/json", 0.0)


def _accepted(accept: str) -> dict[str, float]:
    """Media type -> quality, from an Accept header (`text/html,*/*;q=0.8`)."""
    ranks: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranks[media.lower()] = max(quality, ranks.get(media.lower(), 0.0))
    return ranks


@router.get("/")
def storefront() -> FileResponse:
    return page("index.html")


@router.get("/docs")
def docs() -> FileResponse:
    return page("docs.html")


@router.get("/static/{name}")
def static_file(name: str) -> FileResponse:
    return _file(STATIC_FILES, name)


@router.get("/docs/assets/{name}")
def docs_asset(name: str) -> FileResponse:
    return _file(DOCS_ASSETS, name)


def _file(files: dict[str, Path], name: str) -> FileResponse:
    path = files.get(name)
    if path is None:
        raise HTTPException(404)
    return FileResponse(path)
