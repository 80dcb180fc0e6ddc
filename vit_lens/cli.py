"""vit-lens: one command for ViT Lens (export a model, serve the page, write a static site)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import serve

DESCRIPTION = """ViT Lens: a browser-only, interactive explainer of Vision Transformers.

Export a Hugging Face ViT, DeiT or DINOv2 classifier, look at it in the page on this machine, and
publish the page with your models as a static site."""
EXAMPLES = """examples:
  vit-lens export --model ./my-finetuned-vit --default
  vit-lens serve
  vit-lens site --out public --model my-finetuned-vit
  vit-lens explain my-finetuned-vit cat.jpg --map relevance --png cat.png
  vit-lens <command> --help"""

SITE_DESCRIPTION = """Write a self-contained static site: the page, its runtime and the chosen models.

OUT holds index.html, the runtime (vendor/), model/NAME/ for every model given and
model/index.json (the first model is the default), and precache.json for offline use. It works
from any static host under any sub-path (GitHub Pages, a CDN, a web server's folder): serve it
with COOP/COEP headers for threads, or let its service worker add them (one reload)."""
SITE_EXAMPLES = """examples:
  vit-lens site --out public                               # the page with this checkout's default model
  vit-lens site --out public --model dinov2-s14-cifar10 ./exports/my-vit
  python -m http.server -d public                          # try it (the service worker isolates it)"""


def add_site_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True,
                        help="the site's folder: created, or replaced if it holds an earlier site")
    parser.add_argument("--model", nargs="+", default=[], metavar="NAME",
                        help="models to include: a name in this checkout's web/model, or the path of any folder "
                             "written by vit-lens export (default: web/model's default model)")


def run_site(args: argparse.Namespace) -> int:
    from .site import SiteError, build_site
    try:
        index = build_site(args.out, args.model)
    except SiteError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    names = ", ".join(m["name"] for m in index["models"])
    print(f"wrote {args.out.absolute()} (models: {names}; default {index['default']})")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from export.__main__ import run
    return run(args)


def subcommand(commands, name: str, help: str, description: str, epilog: str) -> argparse.ArgumentParser:
    return commands.add_parser(name, help=help, description=description, epilog=epilog,
                               formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    import export.__main__ as export_command
    parser = argparse.ArgumentParser(prog="vit-lens", description=DESCRIPTION, epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(title="commands", metavar="<command>", required=True)
    export = subcommand(commands, "export", "export a Hugging Face checkpoint for the page",
                        export_command.DESCRIPTION, export_command.EXAMPLES)
    export_command.add_arguments(export).set_defaults(run=run_export)
    served = subcommand(commands, "serve", "serve the page (or a site) on this machine",
                        serve.DESCRIPTION, serve.EXAMPLES)
    serve.add_arguments(served).set_defaults(run=serve.run)
    site = subcommand(commands, "site", "write a static site for any host", SITE_DESCRIPTION, SITE_EXAMPLES)
    add_site_arguments(site)
    site.set_defaults(run=run_site)
    from . import explain
    explained = subcommand(commands, "explain", "compute one of the page's maps for an image, natively",
                           explain.DESCRIPTION, explain.EXAMPLES)
    explain.add_arguments(explained)
    explained.set_defaults(run=explain.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
