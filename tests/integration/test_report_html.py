"""`teamexec report --html`, opened in a real headless browser (Debian's chromium).

The page is judged by what the browser shows: the DOM it built, and the
pixels of a screenshot — the timeline's bars in the outcome colours.  Without
a browser the test is skipped on a developer's machine and fails in CI
(.ci/run installs chromium).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from sessionkit import teamexec, write_session

GREEN = (0x2E, 0x9D, 0x57)  # completed
RED = (0xD9, 0x30, 0x25)  # failed


def browser() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("no chromium in CI: .ci/run must install it (apt-get install chromium)")
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    return found


def headless(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            browser(),
            "--headless",
            "--no-sandbox",  # CI runs as root
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB rows of an 8-bit, non-interlaced RGB or RGBA PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert header is not None
    width, height, depth, colour, _c, _f, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line[j] for k in range(0, stride, bpp) for j in (k, k + 1, k + 2)))
        prev = line
    return width, height, rows


def count_colour(rows: list[bytes], rgb: tuple[int, int, int]) -> int:
    target = bytes(rgb)
    return sum(row[i : i + 3] == target for row in rows for i in range(0, len(row), 3))


@pytest.mark.slow
def test_the_report_page_shows_the_timeline_in_a_browser(tmp_path):
    browser()
    root = write_session(
        tmp_path / "s",
        {"A-001": [], "B-001": ["A-001"], "C-001": ["A-001"], "D-001": ["B-001", "C-001"]},
        behaviour={"B-001": {"fail_times": 1, "fail_message": "server overloaded"}},
    )
    run = teamexec("run", str(root), "--backoff-scale", "0")
    assert run.returncode == 0, run.stdout + run.stderr
    page = tmp_path / "report.html"
    made = teamexec("report", str(root), "--html", str(page))
    assert made.returncode == 0, made.stderr
    dom = headless(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count('class="bar"') == 5  # 4 tasks, B-001 twice
    assert 'data-task="B-001" data-attempt="1" data-outcome="transient"' in dom.stdout
    assert 'data-task="B-001" data-attempt="2" data-outcome="completed"' in dom.stdout
    assert "server overloaded" in dom.stdout  # the failed attempt's log tail
    assert dom.stdout.count('class="node"') == 4
    shot = tmp_path / "shot.png"
    pic = headless(tmp_path, f"--screenshot={shot}", "--window-size=1100,900", page.as_uri())
    assert pic.returncode == 0 and shot.exists(), pic.stderr[-2000:]
    width, height, rows = png_pixels(shot)
    assert (width, height) == (1100, 900)
    timeline = rows[100:400]  # below the title, where the lanes are drawn
    assert count_colour(timeline, GREEN) > 2000, "no completed bars visible"
    assert count_colour(timeline, RED) > 100, "no failed bar visible"


@pytest.mark.slow
def test_the_demo_report_shows_its_timeline(tmp_path):
    browser()
    root = tmp_path / "demo"
    demo = teamexec("demo", str(root))
    assert demo.returncode == 0, demo.stdout + demo.stderr
    page = root / "report.html"
    assert teamexec("report", str(root), "--html", str(page)).returncode == 0
    dom = headless(tmp_path, "--dump-dom", page.as_uri())
    assert dom.stdout.count('data-outcome="completed"') == 6
    assert '<svg id="timeline"' in dom.stdout and "slot 0" in dom.stdout
    shot = tmp_path / "demo.png"
    headless(tmp_path, f"--screenshot={shot}", "--window-size=1100,700", page.as_uri())
    _width, _height, rows = png_pixels(shot)
    assert count_colour(rows[100:400], GREEN) > 3000  # six bars drawn in the lanes
