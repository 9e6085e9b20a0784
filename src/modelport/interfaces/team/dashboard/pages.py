"""The dashboard's page and its static files, served by the same app as ``/api/v1``.

One HTML shell at ``/`` and plain JavaScript modules and CSS under ``/static``,
shipped inside the package: nothing to build, nothing fetched from a CDN. The
page holds no data; every datum comes from ``/api/v1`` with the key in a header.
A strict Content-Security-Policy (scripts from this origin only, no inline
script) backs up the scripts' own rule of building the page with DOM APIs:
even if user data reached markup, it could not run.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Response, get
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

STATIC = Path(__file__).parent / "static"
SECURITY = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


@get("/", include_in_schema=False)
async def index() -> Response[bytes]:
    """The shell; it loads ``/static/app.js``, which routes on the URL's fragment."""
    return Response((STATIC / "index.html").read_bytes(), media_type="text/html",
                    headers={**SECURITY, "cache-control": "no-cache"})


# revalidated on each load (cheap: 304), so a new release shows at once
static = create_static_files_router("/static", directories=[STATIC], include_in_schema=False,
                                    cache_control=CacheControlHeader(no_cache=True))
