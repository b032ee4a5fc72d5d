"""The HTML report: self-contained, escaped, and checked in a real browser (headless Chromium).

Chromium is Debian's package at /usr/bin/chromium; `make test` installs it when it is missing
and the tests run as root. The page is rendered from fixtures/audit/snapshot.json; the browser
takes a screenshot (decoded here to check the charts drew) and dumps the DOM after the page's
script applied a filter and a sort given in the URL fragment.
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES

from iamlint.audit import snapshot
from iamlint.audit.analyse import AnalyseOptions, analyse
from iamlint.audit.html import render_html
from iamlint.ruleset import load_builtin_rules

CHROMIUM = Path("/usr/bin/chromium")
SNAPSHOT = FIXTURES / "audit" / "snapshot.json"


def _page(data: dict[str, Any] | None = None) -> str:
    if data is None:
        snaps, errors = snapshot.load([str(SNAPSHOT)], 10**8)
        assert not errors
    else:
        snaps = [snapshot.in_memory(data, "123456789012", "prod")]
    return render_html(analyse(snaps, AnalyseOptions(proposals=True)), api_calls=42)


def _data(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="iamlint-data">(.*?)</script>', page, re.DOTALL)
    assert found is not None
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def test_nothing_is_fetched() -> None:
    page = _page()
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not re.search(r"<(link|img|iframe|object|embed)\b", page)
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert "@import" not in page and "url(" not in page
    # Links only: in-page anchors and the rules' documentation.
    for href in re.findall(r'href="([^"]*)"', page):
        assert href.startswith("#"), href


def test_findings_link_to_their_rule_documentation() -> None:
    data = _data(_page())
    rules = load_builtin_rules()
    assert len(data["findings"]) == 29  # the snapshot's findings (`audit --from` gives the same)
    for row in data["findings"]:
        assert row["help"] == rules[row["rule"]].help_uri
    principals = {r["principal"]: r for r in data["principals"]}
    assert principals["user alice"]["unused"] == 2 and principals["user alice"]["granted"] == 4
    assert principals["role orders-fn"]["workloads"] == "function orders"
    assert principals["role AWSServiceRoleForECS"]["kind"] == "role (service-linked)"


def test_names_from_the_account_are_escaped() -> None:
    data = json.loads(SNAPSHOT.read_text())
    evil = "</script><script>alert(1)</script>"
    data["RoleDetailList"][0]["RoleName"] = evil
    data["iamlint"]["account"]["name"] = "<b>prod</b>"
    page = _page(data)
    assert evil not in page and "alert(1)" in _data(page)["principals"][0]["principal"] + json.dumps(_data(page))
    assert page.count("<script") == 2  # the data block and the page's own script


# -- in the browser ------------------------------------------------------------------------


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if not CHROMIUM.exists():
        pytest.fail(
            "this test needs Chromium at /usr/bin/chromium: `make test` installs it as root "
            "(apt-get install -y chromium)"
        )
    profile = tmp_path / "profile"
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1400,1800",
        *args,
    ]
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=180)


def _pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and rows of RGB(A) pixels of an 8-bit PNG (what Chromium writes)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, kind = 8, b"", 0, 0, 0
    while pos < len(png):
        length, chunk = struct.unpack(">I4s", png[pos : pos + 8])
        body = png[pos + 8 : pos + 8 + length]
        if chunk == b"IHDR":
            width, height, depth, kind = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and kind in (2, 6)
        elif chunk == b"IDAT":
            idat += body
        pos += 12 + length
    bpp = 4 if kind == 6 else 3
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        kind_f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind_f == 1:
                line[i] = (line[i] + a) & 255
            elif kind_f == 2:
                line[i] = (line[i] + b) & 255
            elif kind_f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind_f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, [bytes(r[i : i + 3]) for r in rows for i in range(0, stride, bpp)]


def test_screenshot_shows_the_report(tmp_path: Path) -> None:
    html, png = tmp_path / "report.html", tmp_path / "shot.png"
    html.write_text(_page())
    proc = _chromium(tmp_path, f"--screenshot={png}", html.as_uri())
    assert png.exists(), proc.stderr[-2000:]
    data = png.read_bytes()
    assert len(data) > 50_000  # a blank page is a few kilobytes
    width, height, pixels = _pixels(data)
    assert (width, height) == (1400, 1800)
    colours = set(pixels)
    assert len(colours) > 200
    # The charts drew: bars in the critical, high and medium colours, and the page header.
    for rgb in ("7b1fa2", "c62828", "ef6c00", "1a237e"):
        assert bytes.fromhex(rgb) in colours, rgb


class _Rows(HTMLParser):
    """Cells of the rows of one table, and the text of one element, from a dumped DOM."""

    def __init__(self, table_id: str, text_id: str) -> None:
        super().__init__()
        self.table_id, self.text_id = table_id, text_id
        self.rows: list[list[str]] = []
        self.text = ""
        self._in_table = self._in_text = False
        self._depth = 0
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        ident = dict(attrs).get("id")
        if ident == self.table_id:
            self._in_table = True
        if ident == self.text_id:
            self._in_text = True
        if self._in_table and tag == "tr":
            self.rows.append([])
        if self._in_table and tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_table = False
        if tag == "span":
            self._in_text = False
        if tag == "td" and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data + " ")
        if self._in_text:
            self.text += data


def _dom(tmp_path: Path, fragment: str, table: str = "findings") -> _Rows:
    html = tmp_path / "report.html"
    html.write_text(_page())
    proc = _chromium(tmp_path, "--dump-dom", "--virtual-time-budget=5000", html.as_uri() + fragment)
    assert 'data-ready="true"' in proc.stdout, proc.stderr[-2000:]
    parsed = _Rows(f"{table}-rows", f"{table}-count")
    parsed.feed(proc.stdout)
    parsed.rows = [r for r in parsed.rows if r]  # the header row has th cells only
    return parsed


def test_the_pages_script_filters_and_sorts(tmp_path: Path) -> None:
    page = _dom(tmp_path, "#q=orders&sort=rule&dir=asc")
    assert page.rows and all("orders" in " ".join(r).lower() for r in page.rows)
    rules = [r[1].split()[0] for r in page.rows]
    assert rules == sorted(rules) and len(set(rules)) > 2
    assert page.text == f"showing 1\u2013{len(page.rows)} of {len(page.rows)} (filtered from 29)"

    critical = _dom(tmp_path, "#severity=critical&sort=who&dir=desc")
    assert [r[0] for r in critical.rows] == ["critical"] * 3
    who = [r[4] for r in critical.rows]
    assert who == sorted(who, reverse=True)

    default = _dom(tmp_path, "", table="principals")
    scores = [int(r[4]) for r in default.rows]
    assert scores == sorted(scores, reverse=True) and scores[0] == 40 and len(default.rows) == 11
