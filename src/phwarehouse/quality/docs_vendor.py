"""The scripts, styles and fonts that GX Data Docs load from public CDNs, kept on this machine.

GX 1.x writes Data Docs pages that pull jQuery, Bootstrap, bootstrap-table, Vega and Font
Awesome from jsdelivr, unpkg, cdnjs and others, and a logo from S3 that carries the data
context's id. On a commission's intranet those hosts are unreachable (or blocked), and the
index page's table of results, drawn by bootstrap-table, stays empty. `make setup` fetches the
same files once from the npm registry (versions pinned, tarballs checked against the
registry's SHA-512 integrity), and the Data Docs app (`phwarehouse.pipeline.data_docs`)
rewrites each page's CDN links to them while serving it. `python -m
phwarehouse.quality.docs_vendor fetch` does the fetch by hand.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import shutil
import sys
import tarfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from phwarehouse.settings import PROJECT_ROOT

VENDOR_DIR = PROJECT_ROOT / ".venvs" / "gx-data-docs-assets"
REGISTRY = os.environ.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org").rstrip("/")


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str  # the registry's dist.integrity of the tarball
    links: dict[str, str]  # CDN URL in the GX pages -> file in the package
    folders: tuple[str, ...] = field(default=())  # also kept whole (fonts a stylesheet names)

    @property
    def key(self) -> str:
        return f"{self.name.replace('/', '+')}@{self.version}"

    @property
    def tarball(self) -> str:
        return f"{REGISTRY}/{self.name}/-/{self.name.split('/')[-1]}-{self.version}.tgz"


PACKAGES = (
    Package(
        "jquery",
        "3.7.1",
        "sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
        {"https://code.jquery.com/jquery-3.7.1.min.js": "dist/jquery.min.js"},
    ),
    Package(
        "bootstrap",
        "4.3.1",
        "sha512-rXqOmH1VilAt2DyPzluTi2blhk17bO7ef+zLLPlWvG494pDxcM234pJ8wTc/6R40UWizAIIMgxjvxZg5kmsbag==",
        {
            "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
                "dist/js/bootstrap.min.js"
            ),
            "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
                "dist/css/bootstrap.min.css"
            ),
        },
    ),
    Package(
        "popper.js",
        "1.12.9",
        "sha512-s0EEi9xiSCdqz9lV4IiVH5yIZnDX/U1t0tCjB+0jXx9jW8lrR7kOpVupiUg175ogqVoudpDXHF1p6dKATCHMeg==",
        {
            "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": (
                "dist/umd/popper.min.js"
            )
        },
    ),
    Package(
        "bootstrap-table",
        "1.19.1",
        "sha512-WvV+l1AI/C+zThaKmfHmi/IuayVNB0qdFyEhFx1jyZhO0oLtNJNANkCR3rvJf6Dkh72dsLElxpE/bzK9seEQLA==",
        {
            "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
                "dist/bootstrap-table.min.js"
            ),
            "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
                "dist/bootstrap-table.min.css"
            ),
            "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/"
            "bootstrap-table-filter-control.min.js": (
                "dist/extensions/filter-control/bootstrap-table-filter-control.min.js"
            ),
            # GX links the 1.19.0 stylesheet of the extension; 1.19.1's is the same release line
            "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
            "bootstrap-table-filter-control.min.css": (
                "dist/extensions/filter-control/bootstrap-table-filter-control.min.css"
            ),
            "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
            "bootstrap-table-filter-control.css": (
                "dist/extensions/filter-control/bootstrap-table-filter-control.css"
            ),
        },
    ),
    Package(
        "bootstrap-datepicker",
        "1.9.0",
        "sha512-9rYYbaVOheGYxjOr/+bJCmRPihfy+LkLSg4fIFMT9Od8WwWB/MB50w0JO1eBgKUMbb7PFHQD5uAfI3ArAxZRXA==",
        {
            "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/"
            "bootstrap-datepicker.min.js": "dist/js/bootstrap-datepicker.min.js",
            "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/"
            "bootstrap-datepicker.min.css": "dist/css/bootstrap-datepicker.min.css",
        },
    ),
    Package(
        "@forevolve/bootstrap-dark",
        "1.1.0",
        "sha512-A3ucpEpxPoTVO490lZZCfjPXxv832l7mm1IxX3bXyxvgwnPGXDLyh7dWrphXKO8YBAu3EswbBEu3VSW8NRMW3A==",
        {
            "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/"
            "bootstrap-prefers-dark.css": "dist/css/bootstrap-prefers-dark.css"
        },
    ),
    Package(
        "@fortawesome/fontawesome-free",
        "6.6.0",
        "sha512-60G28ke/sXdtS9KZCpZSHHkCbdsOGEhIUGlwq6yhY74UpTiToIh8np7A8yphhM4BWsvNFtIvLpi4co+h9Mr9Ow==",
        {
            "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/"
            "all.min.css": "css/all.min.css"
        },
        folders=("webfonts",),
    ),
    # GX asks for the newest release of a major version; these are pinned
    Package(
        "vega",
        "5.33.1",
        "sha512-1fArfVDUqVbb5z8n+/nVQb+VNBzx8svY6CrsyTK4Ujm4yrd9I1auoKxBAPXLCavY1LcrbHUskQbGUP8gXOzyQw==",
        {"https://cdn.jsdelivr.net/npm/vega@5": "build/vega.min.js"},
    ),
    Package(
        "vega-lite",
        "5.23.0",
        "sha512-l4J6+AWE3DIjvovEoHl2LdtCUkfm4zs8Xxx7INwZEAv+XVb6kR6vIN1gt3t2gN2gs/y4DYTs/RPoTeYAuEg6mA==",
        {"https://cdn.jsdelivr.net/npm/vega-lite@5": "build/vega-lite.min.js"},
    ),
    Package(
        "vega-embed",
        "6.29.0",
        "sha512-PmlshTLtLFLgWtF/b23T1OwX53AugJ9RZ3qPE2c01VFAbgt3/GSNI/etzA/GzdrkceXFma+FDHNXUppKuM0U6Q==",
        {"https://cdn.jsdelivr.net/npm/vega-embed@6": "build/vega-embed.min.js"},
    ),
)

# GX's logo, fetched from S3 with the data context's id in the query: the site's own copy instead
_LOGO = re.compile(r"https://great-expectations-web-assets\.s3[^\"']*/logo-long\.png[^\"']*")


class VendorError(RuntimeError):
    pass


def _check_integrity(data: bytes, integrity: str, what: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise VendorError(f"{what}: {algorithm} is {actual}, the pinned integrity is {expected}")


def _wanted(package: Package, member: str) -> bool:
    inner = member.removeprefix("package/")
    return inner in package.links.values() or any(
        inner.startswith(folder + "/") for folder in package.folders
    )


def fetch(dest: Path = VENDOR_DIR, timeout: float = 120) -> list[str]:
    """Download and unpack what is missing; returns the packages fetched (idempotent)."""
    fetched = []
    for package in PACKAGES:
        target = dest / package.key
        if (target / ".complete").exists():
            continue
        with urllib.request.urlopen(package.tarball, timeout=timeout) as response:
            data = response.read()
        _check_integrity(data, package.integrity, package.tarball)
        staging = dest / f".{package.key}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            members = [m for m in tar.getmembers() if m.isfile() and _wanted(package, m.name)]
            for member in members:
                out = staging / member.name.removeprefix("package/")
                out.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                out.write_bytes(source.read())
        missing = [p for p in package.links.values() if not (staging / p).is_file()]
        if missing:
            raise VendorError(f"{package.key}: not in the tarball: {', '.join(missing)}")
        (staging / ".complete").write_text(package.integrity)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        fetched.append(package.key)
    return fetched


def rewrite(html: str, base: str) -> str:
    """A Data Docs page with its CDN links pointing to `{base}/_vendor/…` (served from
    VENDOR_DIR) and GX's logo to the site's own copy."""
    for package in PACKAGES:
        for url, path in package.links.items():
            html = html.replace(f'"{url}"', f'"{base}/_vendor/{package.key}/{path}"')
    return _LOGO.sub(f"{base}/static/images/logo-long.png", html)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args != ["fetch"]:
        print("usage: python -m phwarehouse.quality.docs_vendor fetch", file=sys.stderr)
        return 2
    fetched = fetch()
    print(f"GX Data Docs assets in {VENDOR_DIR}: fetched {', '.join(fetched) or 'nothing new'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
