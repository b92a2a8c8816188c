"""The console's files themselves: everything they refer to exists, nothing
needs what the Content-Security-Policy forbids, nothing comes from the network;
and the store that serves them reads each file once."""
from __future__ import annotations

import re
from html.parser import HTMLParser

from chalicelib.console.static import ASSET_DIR, CONTENT_TYPES, AssetStore

NAMES = {p.name for p in ASSET_DIR.iterdir() if p.is_file()}
SCRIPTS = sorted(ASSET_DIR.glob("*.js"))


def _code(path) -> str:
    """A script without its whole-line comments (which may mention anything)."""
    return "\n".join(line for line in path.read_text().splitlines() if not line.strip().startswith("//"))


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[str] = []
        self.inline: list[str] = []
        self._tag = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self._tag = tag
        for name in attributes:
            if name.startswith("on") or name == "style":
                self.inline.append(f"<{tag} {name}=...>")
        if tag == "script":
            if "src" not in attributes:
                self.inline.append("<script> without src")
            else:
                self.refs.append(attributes["src"])
        if tag == "style":
            self.inline.append("<style>")
        if tag == "link":
            self.refs.append(attributes["href"])

    def handle_data(self, data):
        if self._tag == "script" and data.strip():
            self.inline.append("inline script")


def test_every_file_has_a_known_type():
    assert {p.suffix for p in ASSET_DIR.iterdir()} <= set(CONTENT_TYPES)


def test_index_html_has_no_inline_code_and_only_local_references():
    page = _Page()
    page.feed((ASSET_DIR / "index.html").read_text())
    assert page.inline == []
    assert page.refs, "index.html loads nothing?"
    for ref in page.refs:
        assert ref in NAMES, f"index.html refers to {ref}, which is not in assets/"


def test_every_module_import_is_a_file_of_the_console():
    for script in SCRIPTS:
        text = script.read_text()
        for target in re.findall(r'''(?:from|import)\s*["']([^"']+)["']''', text):
            assert target.startswith("./"), f"{script.name} imports {target}: only ./<file> works under CSP 'self'"
            assert target[2:] in NAMES, f"{script.name} imports {target}, which does not exist"


def test_every_module_is_loaded():
    """Each module is reachable from index.html through imports: a page or tab
    module nobody imports would be served but never run."""
    imports = {
        script.name: {t[2:] for t in re.findall(r'''(?:from|import)\s*["'](\./[^"']+)["']''', script.read_text())}
        for script in SCRIPTS
    }
    page = _Page()
    page.feed((ASSET_DIR / "index.html").read_text())
    reached, todo = set(), [ref for ref in page.refs if ref.endswith(".js")]
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo.extend(imports.get(name, ()))
    assert reached == set(imports), f"never loaded: {sorted(set(imports) - reached)}"


def test_no_network_and_no_markup_from_strings():
    for path in ASSET_DIR.iterdir():
        text = path.read_text()
        assert not re.search(r"https?://", text) or path.suffix == ".svg", f"{path.name} names a URL"
        if path.suffix == ".js":
            text = _code(path)
            # values from the API become text nodes (dom.js), never markup
            for risky in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
                assert risky not in text, f"{path.name} uses {risky}"
            assert "localStorage" not in text and "sessionStorage" not in text, f"{path.name} stores state"
        if path.suffix == ".css":
            assert "@import" not in text and "url(" not in text, f"{path.name} loads something"


def test_the_api_is_called_relative_to_the_page():
    text = (ASSET_DIR / "api.js").read_text()
    assert '"../api/v2.0"' in text
    assert '"../c/login"' in text and '"../c/log_out"' in text
    for script in SCRIPTS:
        assert "/v2/" not in _code(script), f"{script.name} names /v2/: paths must be relative"


# -- the store -------------------------------------------------------------------------------------
def test_the_store_reads_once_and_keeps(tmp_path):
    (tmp_path / "index.html").write_text("<p>one</p>")
    (tmp_path / "tool.py").write_text("print('secret')")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.js").write_text("1")
    store = AssetStore(tmp_path)
    first = store.get("index.html")
    assert first.body == b"<p>one</p>"
    assert first.content_type == "text/html; charset=utf-8"
    (tmp_path / "index.html").write_text("<p>two</p>")
    (tmp_path / "late.js").write_text("2")
    assert store.get("index.html").body == b"<p>one</p>"
    assert store.get("late.js") is None
    # only files of the directory itself, and only known types
    assert store.get("tool.py") is None
    assert store.get("sub") is None
    assert store.get("sub/x.js") is None
    assert store.get("x.js") is None


def test_etags_follow_content(tmp_path):
    (tmp_path / "a.js").write_text("same")
    (tmp_path / "b.js").write_text("same")
    (tmp_path / "c.js").write_text("other")
    store = AssetStore(tmp_path)
    assert store.get("a.js").etag == store.get("b.js").etag != store.get("c.js").etag
