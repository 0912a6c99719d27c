"""Regenerate the README's settings reference from the settings models (`make readme`)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from hub.cli.core import reference_markdown

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def render(text: str) -> str:
    return re.sub(
        f"{re.escape(START)}.*?{re.escape(END)}",
        lambda _m: f"{START}\n{reference_markdown()}{END}",
        text,
        flags=re.DOTALL,
    )


if __name__ == "__main__":
    current = README.read_text(encoding="utf-8")
    fresh = render(current)
    if "--check" in sys.argv:
        sys.exit(0 if fresh == current else 1)
    README.write_text(fresh, encoding="utf-8")
