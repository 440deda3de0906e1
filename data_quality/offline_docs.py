"""Make a GX Data Docs site render offline: serve its CSS/JS from the site itself, not from CDNs.

GX 1.24's page templates (index_page.j2, page.j2, js_script_imports.j2, top_navbar.j2) hard-code CDN
URLs, and GX has no setting to change them: its Jinja loader puts the package's own templates before a
project's ``plugins/custom_data_docs/views``, so those cannot override them. So after each build
:func:`make_docs_offline` copies the files from PyPI packages into ``<site>/static/vendor/`` and rewrites
the pages' URLs to relative paths. What no PyPI package ships is dropped (a page never waits on the
network); GX's links to its own docs and website stay (``<a href>``: nothing is fetched unless clicked).

    bootstrap 4.3.1 CSS/JS     -> XStatic-Bootstrap (4.5.3): bootstrap.min.css, bootstrap.bundle.min.js
    popper.js 1.12.9           -> in bootstrap.bundle.min.js (Popper 1.16); its own tag is dropped
    jquery 3.7.1               -> XStatic-jQuery (3.7.1)
    font-awesome 6.6.0 CSS     -> XStatic-Font-Awesome (6.2.1): all.min.css and its webfonts
    vega 5 / vega-lite 5 / vega-embed 6
                               -> one bundle of the versions altair (which draws GX's charts) targets,
                                  made by vl-convert-python, on pages that draw a chart
    bootstrap-table 1.19.1     -> not on PyPI: docs_assets/bootstrap-table-fallback.js draws the index
                                  tables as plain tables (no search box, filters or pagination)
    bootstrap-table filter-control, bootstrap-datepicker (used only by filter-control),
    @forevolve/bootstrap-dark  -> not on PyPI (or of no use without filter-control): dropped
    GX logo from S3            -> GX's own static/images/logo-long.png (and the favicon's path is mended)
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

VENDOR = Path("static") / "vendor"
_STAMP = ".rewritten"  # in VENDOR: pages older than it are already rewritten
_VEGA_BUNDLE = "vega/vega-embed-bundle.js"
_ASSETS = Path(__file__).parent / "docs_assets"

# a CDN URL (regex, searched) -> the vendored file that replaces it, or None: drop the tag
_CDN: list[tuple[re.Pattern, str | None]] = [(re.compile(p), target) for p, target in [
    (r"/bootstrap/4[^/]*/css/bootstrap(\.min)?\.css$", "bootstrap/css/bootstrap.min.css"),
    (r"/bootstrap/4[^/]*/js/bootstrap(\.min)?\.js$", "bootstrap/js/bootstrap.bundle.min.js"),
    (r"/popper\.js/", None),  # in the bootstrap bundle
    (r"/jquery-3[^/]*\.js$", "jquery/jquery.min.js"),
    (r"/font-awesome/6[^/]*/css/all(\.min)?\.css$", "font-awesome/css/all.min.css"),
    (r"/bootstrap-table@[^/]+/dist/bootstrap-table(\.min)?\.js$", "bootstrap-table-fallback.js"),
    (r"/bootstrap-table@", None),  # its CSS and the filter-control extension
    (r"/bootstrap-datepicker/", None),
    (r"/bootstrap-dark@", None),
    (r"/npm/vega@", _VEGA_BUNDLE),  # kept only on pages that draw a chart
    (r"/npm/vega-(lite|embed)@", None),  # in the bundle
]]
_TAG = re.compile(r"""<script\b[^>]*\bsrc=["']((?:https?:)?//[^"']+)["'][^>]*>\s*</script>"""
                  r"""|<link\b[^>]*\bhref=["']((?:https?:)?//[^"']+)["'][^>]*>""", re.I)
_GX_IMAGE = re.compile(r"https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/([\w.-]+)(\?[^\"')\s]*)?")
_GX_IMAGES = {"full_logo_dark.png": "logo-long.png"}  # the dark-mode logo is not in the package
# GX's own images, which its templates reach with "../" repeated by the page's depth: favicon.j2 counts
# one "../" too few on validation pages
_LOCAL_IMAGE = re.compile(r"""(\b(?:src|href)=["'])(?:\.{1,2}/)*static/images/""")


def _vendored_files() -> dict[str, Path]:
    """Each file under VENDOR -> the installed file it is copied from."""
    from xstatic.pkg import bootstrap, font_awesome, jquery

    bs, fa, jq = (Path(m.BASE_DIR) for m in (bootstrap, font_awesome, jquery))
    files = {"bootstrap/css/bootstrap.min.css": bs / "css" / "bootstrap.min.css",
             "bootstrap/js/bootstrap.bundle.min.js": bs / "js" / "bootstrap.bundle.min.js",
             "jquery/jquery.min.js": jq / "jquery.min.js",
             "font-awesome/css/all.min.css": fa / "css" / "all.min.css",
             "bootstrap-table-fallback.js": _ASSETS / "bootstrap-table-fallback.js"}
    files.update({f"font-awesome/webfonts/{f.name}": f for f in (fa / "webfonts").iterdir()})
    return files


def _ensure_vega_bundle(path: Path) -> None:
    """Write the bundle unless ``path`` holds the one the installed vl-convert-python makes."""
    import vl_convert

    header = (f"/* Vega {vl_convert.get_vega_version()}, Vega-Lite {vl_convert.get_vegalite_versions()[-1]}, "
              f"Vega-Embed {vl_convert.get_vega_embed_version()}: bundled by vl-convert-python "
              f"{vl_convert.__version__} */\n")
    if path.is_file():
        with open(path, encoding="utf-8") as f:
            if f.readline() == header:
                return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    # wrapped, the bundle's top-level names stay in its own scope; it sets window.vega, vegaLite and vegaEmbed
    tmp.write_text(header + "(function () {\n" + vl_convert.javascript_bundle() + "\n})();\n", encoding="utf-8")
    tmp.replace(path)


def _rewrite(html: str, to_vendor: str, to_images: str) -> str:
    """The page with its CDN tags pointed at ``to_vendor`` (or dropped) and GX's images at ``to_images``."""
    charts = "vegaEmbed(" in html

    def tag(m: re.Match) -> str:
        url = m.group(1) or m.group(2)
        known = [t for p, t in _CDN if p.search(url)]
        if not known:
            log.warning("Data Docs: dropped %s, which no vendored file replaces", url)
        target = known[0] if known else None
        if target == _VEGA_BUNDLE and not charts:
            target = None
        if target is None:
            return ""
        if m.group(1):
            return f'<script src="{to_vendor}{target}"></script>'
        return f'<link rel="stylesheet" href="{to_vendor}{target}">'

    html = _TAG.sub(tag, html)
    html = _GX_IMAGE.sub(lambda m: to_images + _GX_IMAGES.get(m.group(1), m.group(1)), html)
    return _LOCAL_IMAGE.sub(lambda m: m.group(1) + to_images, html)


def make_docs_offline(site: Path) -> None:
    """Vendor the static files into ``site`` (a Data Docs site's root, with index.html) and point its
    pages at them. Idempotent; pages rewritten by an earlier call are skipped."""
    site = Path(site)
    vendor = site / VENDOR
    vendor.mkdir(parents=True, exist_ok=True)
    for name, source in _vendored_files().items():
        dest = vendor / name
        src = source.stat()
        if not dest.is_file() or (dest.stat().st_size, dest.stat().st_mtime_ns) != (src.st_size, src.st_mtime_ns):
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest)  # with its mtime: a package upgrade shows as a different one
    stamp = vendor / _STAMP
    since = stamp.stat().st_mtime_ns if stamp.exists() else -1
    bundled = False
    for page in site.rglob("*.html"):
        if page.is_relative_to(vendor) or page.stat().st_mtime_ns < since:
            continue
        up = os.path.relpath(site, page.parent).replace(os.sep, "/") + "/"
        up = "" if up == "./" else up
        html = page.read_text(encoding="utf-8")
        new = _rewrite(html, f"{up}{VENDOR.as_posix()}/", f"{up}static/images/")
        if new != html:
            page.write_text(new, encoding="utf-8")
        if not bundled and _VEGA_BUNDLE in new:
            _ensure_vega_bundle(vendor / _VEGA_BUNDLE)
            bundled = True
    stamp.touch()
