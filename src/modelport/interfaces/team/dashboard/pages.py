"""The dashboard's page and its static files, served by the same app as ``/api/v1``.

One HTML shell at ``/`` and plain JavaScript modules and CSS under ``/static``,
shipped inside the package: nothing to build, nothing fetched from a CDN. The
page holds no data; every datum comes from ``/api/v1`` with the key in a header.
A strict Content-Security-Policy (scripts from this origin only, no inline
script) backs up the scripts' own rule of building the page with DOM APIs:
even if user data reached markup, it could not run.

The files live under ``/static/<digest of their contents>/``: the modules import
each other by relative path, so they all load from one such folder, which the
browser may keep for good (``immutable``) — a page load then costs the shell and
the data, not a dozen revalidations — and a new release is a new folder.
"""

from __future__ import annotations

import hashlib
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


def _digest(files: list[Path]) -> str:
    h = hashlib.sha256()
    for file in files:
        h.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _shell() -> bytes:
    """index.html pointing at this release's folder, every module preloaded at once (the
    imports would otherwise be found one level at a time)."""
    preload = "".join(f'<link rel="modulepreload" href="/static/{DIGEST}/{f.name}">\n'
                      for f in sorted(STATIC.glob("*.js")))
    html = (STATIC / "index.html").read_text().replace("/static/", f"/static/{DIGEST}/")
    return html.replace("</head>", preload + "</head>").encode()


DIGEST = _digest(sorted(STATIC.iterdir()))
SHELL = _shell()


@get("/", include_in_schema=False)
async def index() -> Response[bytes]:
    """The shell; it loads ``app.js``, which routes on the URL's fragment."""
    return Response(SHELL, media_type="text/html",
                    headers={**SECURITY, "cache-control": "no-cache"})


static = create_static_files_router(
    f"/static/{DIGEST}", directories=[STATIC], include_in_schema=False,
    cache_control=CacheControlHeader(max_age=31_536_000, public=True, immutable=True))
