"""python -m export --model <hub id or local folder>: write web/model/<name>/ for the page."""
from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

from .families import supported_list

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m export",
        description=f"Export a Hugging Face ViT-family classifier for ViT Lens. Supported: {supported_list()}.")
    parser.add_argument("--model", required=True, help="hub id (needs network) or a save_pretrained folder")
    parser.add_argument("--name", help="folder name under --out (default: from --model)")
    parser.add_argument("--title", help="human-readable title shown in the page's model picker")
    parser.add_argument("--out", type=Path, default=ROOT / "web" / "model", help="models folder (default web/model)")
    parser.add_argument("--default", action="store_true", help="make this the page's default model")
    parser.add_argument("--weights", choices=("fp16", "fp32"), default="fp16",
                        help="store the large weights as float16 (half the download; computing stays float32, "
                             "the error is measured) or keep them float32")
    args = parser.parse_args(argv)

    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", module="torch.onnx")
    logging.getLogger("optimum").setLevel(logging.ERROR)
    from .pipeline import ExportError, export_model  # heavy imports after argument errors

    try:
        folder = export_model(args.model, args.out, name=args.name, title=args.title, make_default=args.default,
                              weights=args.weights)
    except ExportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written (an earlier export of this model is kept)", file=sys.stderr)
        return 130
    print(f"wrote {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
