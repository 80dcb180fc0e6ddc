// A model folder written by python -m export, opened from the user's disk: chosen with "Open a
// model folder…" or "Open a zipped model…" in the model picker, or dropped on the page (a folder or
// a .zip of one). Nothing is uploaded: each file is read in this browser when the page needs it and
// checked against the sha256 its manifest lists (digest.js), as for a deployed model. The page
// knows the model as `local:<name>` until it is reloaded; no cache or service worker keeps it.
import { checkDigest } from "./digest.js";
import { readZip } from "./zip.js";

export const LOCAL = "local:";
// A folder written by the export step holds a few dozen files (manifest.json, one part per block,
// parameters.bin, analysis.onnx, preprocess.onnx, knowledge.json, the samples): far more means the
// wrong folder, refused before any file is read.
const MAX_FILES = 400;

const isZip = (name) => name.toLowerCase().endsWith(".zip");

function notAModel(label, why) {
  return new Error(`${label} is not a model folder: ${why}; open the folder python -m export wrote ` +
                   "(the one that holds manifest.json and the .onnx parts), or a .zip of it");
}

function tooMany(label, count) {
  return notAModel(label, `it holds ${count > MAX_FILES ? "more than " + MAX_FILES : count} files`);
}

function fromFile(file, path) {
  return { path, size: file.size, read: () => file.arrayBuffer() };
}

async function fromZip(file) {
  const { files, tooMany: count } = await readZip(file, file.name, MAX_FILES);
  if (count) throw tooMany(file.name, count);
  return files;
}

// Every file under a dropped folder, by its path; stops counting past MAX_FILES.
async function walk(directory) {
  const files = [];
  const folders = [directory];
  let seen = 0;
  while (folders.length) {
    const reader = folders.shift().createReader();
    for (;;) {
      const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
      if (!batch.length) break;
      seen += batch.length;
      if (seen > MAX_FILES) throw tooMany(directory.name, seen);
      for (const entry of batch) {
        if (entry.isDirectory) folders.push(entry);
        else files.push(fromFile(await new Promise((resolve, reject) => entry.file(resolve, reject)),
                                 entry.fullPath.replace(/^\//, "")));
      }
    }
  }
  return files;
}

// What a drop holds, taken while the drop event is dispatched (the browser empties it afterwards):
// a promise of { label, files }, or null when the drop is not a model (an image, say).
function dropped(transfer) {
  const items = Array.from(transfer.items || []).filter((item) => item.kind === "file");
  const entries = items.map((item) => item.webkitGetAsEntry?.() || null);
  const files = items.map((item) => item.getAsFile());
  const folder = entries.find((entry) => entry?.isDirectory);
  if (folder) return walk(folder).then((found) => ({ label: folder.name, files: found }));
  const zip = files.find((file) => file && isZip(file.name));
  if (zip) return fromZip(zip).then((found) => ({ label: zip.name, files: found }));
  return null;
}

// The files an <input type=file> holds: a folder (webkitdirectory) or one .zip.
async function chosen(fileList) {
  const files = Array.from(fileList);
  if (files.length === 1 && isZip(files[0].name)) return { label: files[0].name, files: await fromZip(files[0]) };
  const label = files[0]?.webkitRelativePath.split("/")[0] || "the chosen files";
  if (files.length > MAX_FILES) throw tooMany(label, files.length);
  return { label, files: files.map((file) => fromFile(file, file.webkitRelativePath || file.name)) };
}

// The model folder inside what was opened: the shallowest manifest.json names it.
function modelFolder({ label, files }) {
  if (files.length > MAX_FILES) throw tooMany(label, files.length);
  const depth = (path) => path.split("/").length;
  const manifests = files.filter((f) => f.path.split("/").pop() === "manifest.json").sort((a, b) => depth(a.path) - depth(b.path));
  if (!manifests.length) throw notAModel(label, files.length ? "it has no manifest.json" : "it is empty");
  const root = manifests[0].path.slice(0, -"manifest.json".length);
  return new Map(files.filter((f) => f.path.startsWith(root)).map((f) => [f.path.slice(root.length), f]));
}

class LocalModels {
  constructor() {
    this.opened = new Map();  // base -> { manifest (text), files (path -> file), blobs, urls }
    this.pending = new Map();  // the same, for a model being loaded (the one on screen stays usable)
  }

  model(base) { return this.pending.get(base) ?? this.opened.get(base); }
  has(base) { return base.startsWith(LOCAL) && Boolean(this.model(base)); }

  // Read what was chosen or dropped, find its manifest.json: resolves to the model's base
  // (`local:<name>`), to be loaded by the page's Python and then committed or discarded.
  async open(opening) {
    const { label, files: found } = await opening;
    const files = modelFolder({ label, files: found });
    let manifest;
    try {
      manifest = new TextDecoder().decode(await files.get("manifest.json").read());
    } catch (error) {
      throw new Error(`manifest.json of ${label} could not be read: ${error.message}`, { cause: error });
    }
    let name;
    try { name = JSON.parse(manifest)?.name; } catch (error) {
      throw new Error(`manifest.json of ${label} is not valid JSON (${error.message})`, { cause: error });
    }
    if (typeof name !== "string" || !name) throw new Error(`manifest.json of ${label} has no 'name'`);
    const base = LOCAL + name;
    this.discard(base);
    this.pending.set(base, { manifest, files, blobs: new Map(), urls: new Map() });
    return base;
  }

  openInput(fileList) { return this.open(chosen(fileList)); }

  manifest(base) { return this.model(base).manifest; }

  async read(base, file, sha256, onBytes) {
    const entry = this.model(base)?.files.get(file);
    if (!entry) throw new Error(`${file} could not be read: the folder has no such file`);
    let buffer;
    try { buffer = await entry.read(); } catch (error) { throw new Error(`${file} could not be read: ${error.message}`, { cause: error }); }
    onBytes(buffer.byteLength);
    return checkDigest(buffer, file, sha256);
  }

  // The small files the page shows as images or reads as JSON (samples, knowledge graph): read and
  // checked once, then kept as blobs with URLs for <img>.
  async prepare(base, files, listing) {
    const model = this.model(base);
    for (const file of files) {
      const buffer = await this.read(base, file, listing[file]?.sha256, () => {});
      model.blobs.set(file, new Blob([buffer]));
      model.urls.set(file, URL.createObjectURL(model.blobs.get(file)));
    }
  }

  url(base, file) { return this.has(base) ? this.model(base).urls.get(file) : undefined; }
  response(base, file) { return new Response(this.model(base).blobs.get(file)); }

  commit(base) {
    const model = this.pending.get(base);
    this.revoke(this.opened.get(base));
    this.opened.set(base, model);
    this.pending.delete(base);
  }

  discard(base) {
    this.revoke(this.pending.get(base));
    this.pending.delete(base);
  }

  revoke(model) {
    for (const url of model?.urls.values() ?? []) URL.revokeObjectURL(url);
  }

  // A folder or .zip dropped anywhere on the page is opened with onOpen(promise of its base); other
  // drops are left to the image drop zone, and a file dropped beside it does not replace the page.
  install(onOpen) {
    const files = (event) => event.dataTransfer?.types.includes("Files");
    document.addEventListener("dragover", (event) => { if (files(event)) event.preventDefault(); });
    document.addEventListener("drop", (event) => {
      if (!files(event)) return;
      const opening = dropped(event.dataTransfer);
      if (opening) {
        event.stopPropagation();
        onOpen(this.open(opening));
      }
      event.preventDefault();
    }, { capture: true });
  }
}

export const localModels = new LocalModels();
