"""A self-contained static site: the page, its runtime and chosen exported models, for any static host.

Files are hard links where the file system allows (the runtime and the models are large), copies
otherwise; never symlinks, which serve.py and many hosts refuse to follow out of the root. The site
is assembled beside its destination and replaces it whole, so a failed build loses nothing.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from . import precache
from .paths import MODELS, WEB

EXCLUDED = {"model", "precache.json"}  # every site gets its own models and its own precache list


class SiteError(ValueError):
    """A problem the user can fix: said in one line, without a traceback."""


def link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or one without hard links
        shutil.copy2(source, target)


def link_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, copy_function=link_or_copy, dirs_exist_ok=True)


def available(models: Path = MODELS) -> list[str]:
    return sorted(p.parent.name for p in models.glob("*/manifest.json") if not p.parent.name.startswith("."))


def find_model(ref: str | Path, models: Path = MODELS) -> Path:
    """An exported folder: a path to one, or the name of one in this checkout's web/model."""
    for folder in (Path(ref), models / str(ref)):
        if (folder / "manifest.json").is_file():
            return folder.resolve()
    if Path(ref).is_dir():
        raise SiteError(f"{ref} has no manifest.json: it is not a folder written by vit-lens export")
    names = ", ".join(available(models)) or "none"
    raise SiteError(f"no exported model {str(ref)!r}: give a folder written by vit-lens export, "
                    f"or one of the models in {models} ({names})")


def read_manifest(folder: Path) -> dict:
    """The folder's manifest, once every file it lists is there: a site must not ship half a model."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        files = manifest["files"]
        manifest["name"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SiteError(f"{folder / 'manifest.json'} is not a readable ViT Lens manifest ({error})") from None
    missing = [name for name in files if not (folder / name).is_file()]
    if missing:
        raise SiteError(f"{folder} is incomplete: {', '.join(missing[:3])} missing; export it again")
    return manifest


def check_page(web: Path) -> None:
    if not (web / "index.html").is_file() or not (web / "vendor" / "files.json").is_file():
        raise SiteError(f"the page's runtime is not built in {web}: run scripts/setup.sh")


def assemble(site: Path, folders: list[Path], web: Path = WEB) -> dict:
    """Write the page, the models and model/index.json into an empty folder; the first model is the default."""
    from export.index import write_index
    check_page(web)
    manifests = [read_manifest(folder) for folder in folders]
    names = [m["name"] for m in manifests]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SiteError(f"two models are named {', '.join(twice)}: a site holds each name once")
    for entry in web.iterdir():
        if entry.name in EXCLUDED or entry.name.startswith("."):
            continue
        if entry.is_dir():
            link_tree(entry, site / entry.name)
        else:
            link_or_copy(entry, site / entry.name)
    for folder, manifest in zip(folders, manifests):
        link_tree(folder, site / "model" / manifest["name"])
    index = write_index(site / "model", default=names[0])
    precache.write(site)
    return index


def build_site(out: Path, models: list[str | Path], web: Path = WEB) -> dict:
    """out is created, or replaced if it holds an earlier site; any other non-empty folder is refused."""
    out = Path(out).absolute()
    folders = [find_model(ref) for ref in models] if models else [default_model()]
    if out.exists() and not out.is_dir():
        raise SiteError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / "precache.json").is_file():
        raise SiteError(f"{out} is not empty and not a site written by vit-lens site: choose another folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    except OSError as error:
        raise SiteError(f"cannot write to {out.parent}: {error.strerror or error}") from None
    try:
        index = assemble(staging, folders, web)
        os.chmod(staging, 0o755)
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
            staging.rename(out)
            shutil.rmtree(old)
        else:
            staging.rename(out)
    except OSError as error:
        raise SiteError(f"writing {out} failed: {error.strerror or error}; nothing was written") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return index


def default_model(models: Path = MODELS) -> Path:
    try:
        name = json.loads((models / "index.json").read_text())["default"]
    except (OSError, ValueError, KeyError):
        raise SiteError(f"no model in {models}: export one (vit-lens export) or name a folder with --model") from None
    return find_model(name, models)
