"""Regenerate tests/data/core_object_info.json (the core node schemas the workflow checker uses in CI).

    python tools/derive_core_object_info.py SOURCE [--out tests/data/core_object_info.json] [--version 0.33.0]

SOURCE is a saved /object_info JSON file (e.g. `curl http://127.0.0.1:8188/object_info > object_info.json` from a
ComfyUI started with --disable-all-custom-nodes) or the URL of a running server's /object_info. Custom-node
entries and the paid cloud API nodes (comfy_api_nodes: FaceLab workflows run offline) are dropped; each core node
keeps only what validation needs (see schema.compact_object_info). One node per line, so diffs stay readable.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="object_info JSON file or http(s) URL of /object_info")
    parser.add_argument("--out", default=str(ROOT / "tests" / "data" / "core_object_info.json"))
    parser.add_argument("--version", default="0.33.0", help="ComfyUI version the source was taken from")
    args = parser.parse_args(argv)

    if args.source.startswith(("http://", "https://")):
        with urllib.request.urlopen(args.source, timeout=120) as resp:
            raw = resp.read()
        origin = args.source
    else:
        raw = Path(args.source).read_bytes()
        origin = Path(args.source).name
    full = json.loads(raw)
    dropped = ("custom_nodes", "comfy_api_nodes")
    core = {k: v for k, v in full.items() if not str(v.get("python_module", "")).startswith(dropped)}

    import facelab

    facelab.load_pack()
    from comfyui_facelab.workflow_check import compact_object_info

    out = {
        "_provenance": {
            "comfyui_version": args.version,
            "source": f"GET /object_info of ComfyUI {args.version} ({origin}, sha256 {hashlib.sha256(raw).hexdigest()})",
            "derived_by": "tools/derive_core_object_info.py (custom_nodes and comfy_api_nodes entries dropped; per input only type, "
            "combo options and the options validation needs; hidden inputs, tooltips, descriptions dropped)",
            "nodes": len(core),
        }
    }
    out.update(compact_object_info(core))
    lines = [f"{json.dumps(k)}:{json.dumps(v, separators=(',', ':'))}" for k, v in out.items()]
    Path(args.out).write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    print(
        f"wrote {args.out}: {len(core)} core nodes ({len(full) - len(core)} dropped), "
        f"{Path(args.out).stat().st_size / 1e3:.0f} kB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
