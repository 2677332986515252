"""GX Data Docs served by the Airflow API server at `/data-docs/` (a plugin FastAPI app), so
the quality gate's results are one click from Airflow's menu, on a laptop and on a server.

Only signed-in Airflow users may read them (the results name facilities and record ids); a
browser without a session is sent to Airflow's login and back. Paths cannot leave the site.
Pages are served with their CDN links rewritten to the copies `make setup` keeps
(`phwarehouse.quality.docs_vendor`, under `/data-docs/_vendor/`): they work without internet.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from phwarehouse.quality import docs_vendor
from phwarehouse.quality.status import DATA_DOCS, DATA_DOCS_PATH

URL_PREFIX = DATA_DOCS_PATH
SITE = DATA_DOCS.parent


def _resolve(site: Path, path: str) -> Path | None:
    """The file under `site` that `path` names (index.html for a folder), None outside it."""
    root = site.resolve()
    target = (root / (path or "index.html")).resolve()
    if target.is_dir():
        target = target / "index.html"
    if not target.is_relative_to(root) or not target.is_file():
        return None
    return target


def create_app(site: Path = SITE, vendor: Path = docs_vendor.VENDOR_DIR) -> FastAPI:
    app = FastAPI(title="GX Data Docs", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/{path:path}", response_model=None)
    async def page(request: Request, path: str = "") -> Response:
        from airflow.api_fastapi.core_api.security import bearer_scheme, get_user

        try:  # a bearer token (API clients) or the UI's session cookie
            await get_user(request, None, await bearer_scheme(request))
        except HTTPException:
            login = f"/api/v2/auth/login?next={quote(str(request.url), safe='')}"
            return RedirectResponse(login, status_code=302)
        if path.startswith("_vendor/"):
            asset = _resolve(vendor, path.removeprefix("_vendor/"))
            if asset is None:
                raise HTTPException(404, "not found (make setup fetches the Data Docs assets)")
            return FileResponse(asset)
        target = _resolve(site, path)
        if target is None:
            if not (site / "index.html").is_file():
                raise HTTPException(404, "no Data Docs yet: the quality gate has not run")
            raise HTTPException(404, "not found")
        if target.suffix == ".html":
            page = docs_vendor.rewrite(target.read_text(encoding="utf-8"), URL_PREFIX)
            return HTMLResponse(page)
        return FileResponse(target)

    return app
