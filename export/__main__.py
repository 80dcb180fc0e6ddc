"""python -m export --model <hub id or local folder> (or vit-lens export): write <out>/<name>/ for the page."""
from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

from .families import supported_list
from .samples import EXAMPLE, SampleError, read_samples

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "web" / "model"

DESCRIPTION = f"""Export a Hugging Face ViT-family image classifier for ViT Lens.

Loads the checkpoint, exports it with optimum to ONNX with every intermediate tensor under a
semantic name, splits it into one part per stage, checks every tensor against PyTorch and writes
OUT/NAME/ (parts, manifest.json, parameters, analysis graph, knowledge graph, sample images) and
OUT/index.json. Supported: {supported_list()}."""
EXAMPLES = f"""examples:
  vit-lens export --model google/vit-base-patch16-224          # hub id (needs the network)
  vit-lens export --model ./my-finetuned-vit --default         # a save_pretrained folder
  vit-lens export --model ./my-vit --out models --weights fp32 # into ./models/my-vit/
  vit-lens export --model ./my-vit --samples ./photos          # ship your own sample images

--samples DIR: every image in DIR (.jpg, .png, ...) needs NAME.txt beside it, e.g. cat.txt:
  {EXAMPLE.replace(chr(10), chr(10) + '  ')}
  (optional lines: `title: ...`, and `label: ...` naming the image's class among the model's)"""


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--model", required=True, help="hub id (needs network) or a save_pretrained folder")
    parser.add_argument("--name", help="folder name under --out (default: from --model)")
    parser.add_argument("--title", help="human-readable title shown in the page's model picker")
    parser.add_argument("--out", type=Path, default=MODELS,
                        help="models folder, relative to the current folder (default: this checkout's web/model, "
                             "which vit-lens serve shows)")
    parser.add_argument("--default", action="store_true", help="make this the page's default model")
    parser.add_argument("--weights", choices=("fp16", "fp32"), default="fp16",
                        help="store the large weights as float16 (half the download; computing stays float32, "
                             "the error is measured) or keep them float32")
    parser.add_argument("--samples", type=Path, metavar="DIR",
                        help="ship these images instead of the built-in samples, each with NAME.txt "
                             "giving its licence (see below)")
    return parser


def build_parser(prog: str = "python -m export") -> argparse.ArgumentParser:
    return add_arguments(argparse.ArgumentParser(prog=prog, description=DESCRIPTION, epilog=EXAMPLES,
                                                 formatter_class=argparse.RawDescriptionHelpFormatter))


def main(argv: list[str] | None = None, prog: str = "python -m export") -> int:
    return run(build_parser(prog).parse_args(argv))


def run(args: argparse.Namespace) -> int:
    out = args.out.absolute()  # the current folder's, whatever folder the code lives in
    try:
        samples = read_samples(args.samples) if args.samples else None
    except SampleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", module="torch.onnx")
    for library in ("optimum", "transformers"):  # their advice to developers is noise here
        logging.getLogger(library).setLevel(logging.ERROR)
    from .pipeline import ExportError, export_model  # heavy imports after argument errors
    from .progress import Progress

    try:
        folder = export_model(args.model, out, name=args.name, title=args.title, make_default=args.default,
                              weights=args.weights, samples=samples, progress=Progress())
    except (ExportError, SampleError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written (an earlier export of this model is kept)", file=sys.stderr)
        return 130
    print(f"wrote {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
