"""A picture of an explanation: explain a text with a run, write the HTML page next to the PNG,
and screenshot the page with headless Chromium (to see what ``render_html`` really shows).

    python scripts/screenshot_explain.py RUN_DIR "сбербанк опять плохо" out/why.png
    python scripts/screenshot_explain.py RUN_DIR "текст" why.png --method integrated_gradients

Prints the HTML's and the PNG's paths. Needs ``chromium`` on PATH (Debian: apt-get install
chromium); without it the HTML is still written and the script says so and exits 1.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

# Headless, offline and quiet: no sandbox (root in a container), no GPU, no network chatter.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def screenshot(page: Path, png: Path, browser: str = "chromium", size: tuple[int, int] = (900, 400),
               timeout: float = 120) -> None:
    """``page`` rendered by headless Chromium into ``png`` (a throwaway profile each time)."""
    with tempfile.TemporaryDirectory(prefix="sentinet-chromium-") as profile:
        command = [browser, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={png.resolve()}",
                   f"--window-size={size[0]},{size[1]}", page.resolve().as_uri()]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0 or not png.is_file():
        tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"chromium made no screenshot (exit {result.returncode}): {tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run, ensemble or baseline directory")
    parser.add_argument("text", help="the text to explain")
    parser.add_argument("png", type=Path, help="where the screenshot goes (the .html goes beside it)")
    parser.add_argument("--method", default="occlusion", choices=["occlusion", "integrated_gradients"])
    parser.add_argument("--steps", type=int, default=64, help="integrated gradients' path points")
    parser.add_argument("--size", default="900,400", help="window width,height in pixels")
    parser.add_argument("--browser", default="chromium", help="the Chromium executable")
    args = parser.parse_args(argv)

    from sentinet.errors import SentinetError
    from sentinet.inference.explain import explain, render_html
    from sentinet.inference.opener import open_predictor

    try:
        explanation = explain(open_predictor(args.run, "cpu"), args.text, args.method, args.steps)
    except SentinetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.png.parent.mkdir(parents=True, exist_ok=True)
    page = args.png.with_suffix(".html")
    page.write_text(render_html(explanation), encoding="utf-8")
    print(page)
    if shutil.which(args.browser) is None:
        print(f"{args.browser} is not installed (apt-get install chromium): no screenshot", file=sys.stderr)
        return 1
    width, height = (int(n) for n in args.size.split(","))
    screenshot(page, args.png, args.browser, (width, height))
    print(args.png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
