"""GX Data Docs without internet: every CDN link GX writes maps to a file `make setup` fetched."""

from __future__ import annotations

import re

import pytest

from phwarehouse.quality import docs_vendor

# the links of a GX 1.x Data Docs page (great_expectations/render/view/templates)
PAGE = "\n".join(
    [f'<script src="{url}"></script>' for p in docs_vendor.PACKAGES for url in p.links]
    + [
        '<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/'
        'logo-long.png?d=20261204T065025.124109Z&dataContextId=d2ba9d83">',
        '<a href="https://greatexpectations.io">Great Expectations</a>',
    ]
)


def test_rewrite_leaves_no_asset_on_another_host() -> None:
    page = docs_vendor.rewrite(PAGE, "/data-docs")
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert [a for a in assets if a.startswith("http")] == ["https://greatexpectations.io"]
    assert "/data-docs/static/images/logo-long.png" in assets
    assert "/data-docs/_vendor/jquery@3.7.1/dist/jquery.min.js" in assets


def test_every_link_has_its_fetched_file() -> None:
    if not docs_vendor.VENDOR_DIR.is_dir():
        pytest.fail("run make setup: the GX Data Docs assets are not fetched")
    for package in docs_vendor.PACKAGES:
        for path in package.links.values():
            assert (docs_vendor.VENDOR_DIR / package.key / path).is_file(), (package.key, path)
    fonts = docs_vendor.VENDOR_DIR / "@fortawesome+fontawesome-free@6.6.0" / "webfonts"
    assert any(fonts.glob("*.woff2"))  # all.min.css loads them from ../webfonts


def test_a_tarball_that_differs_from_the_pin_is_refused() -> None:
    with pytest.raises(docs_vendor.VendorError, match="pinned integrity"):
        docs_vendor._check_integrity(b"not the tarball", docs_vendor.PACKAGES[0].integrity, "x")
