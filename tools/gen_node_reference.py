"""Regenerate the node reference table in README.md from the registered nodes.

    python tools/gen_node_reference.py          # rewrite README.md in place
    python tools/gen_node_reference.py --check  # exit 1 if README.md is out of date (used by the tests)

The table lists every node (display name, id, category, inputs, outputs, first sentence of its
DESCRIPTION) so the README can never drift from the code.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- node-reference:start -->", "<!-- node-reference:end -->"


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    m = re.match(r"(.+?[.!?])(\s|$)", text)
    return (m.group(1) if m else text).replace("|", "\\|")


def render() -> str:
    sys.path.insert(0, str(ROOT))
    import facelab

    pack = facelab.load_pack()
    rows = []
    for node_id, cls in pack.NODE_CLASS_MAPPINGS.items():
        spec = cls.INPUT_TYPES()
        inputs = list(spec.get("required", {})) + [f"{k}?" for k in spec.get("optional", {})]
        outputs = [
            f"{n} ({t})" if n.lower() != str(t).lower() else str(t)
            for n, t in zip(getattr(cls, "RETURN_NAMES", cls.RETURN_TYPES), cls.RETURN_TYPES)
        ]
        rows.append(
            (
                cls.CATEGORY,
                pack.NODE_DISPLAY_NAME_MAPPINGS[node_id],
                node_id,
                inputs,
                outputs,
                _first_sentence(cls.DESCRIPTION),
            )
        )
    rows.sort(key=lambda r: (r[0], r[1]))
    lines = [START, "", "| Node | Category | Inputs (`?` optional) | Outputs | What it does |", "|---|---|---|---|---|"]
    for cat, name, node_id, inputs, outputs, desc in rows:
        lines.append(
            f"| **{name}**<br>`{node_id}` | {cat} | {', '.join(f'`{i}`' for i in inputs)} | {', '.join(outputs)} | {desc} |"
        )
    lines += ["", END]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        print(f"README.md lacks the markers {START} / {END}", file=sys.stderr)
        return 1
    new = text[: text.index(START)] + render() + text[text.index(END) + len(END) :]
    if args.check:
        if new != text:
            print("README.md node reference is out of date: run python tools/gen_node_reference.py", file=sys.stderr)
            return 1
        return 0
    readme.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
