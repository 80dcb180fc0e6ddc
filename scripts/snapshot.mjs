// Make web/vendor/python-snapshot.gz: Pyodide's memory after it has started and imported the page's
// Python (every module web/py/files.json lists but main.py), so the page restores it instead of
// starting Python from scratch (web/js/python.js). Run by scripts/build_web.py; node scripts/snapshot.mjs
//
// The page checks web/vendor/python-snapshot.json before it uses the snapshot: the sha256 of every
// Python file it was made from, and of the snapshot itself. A file changed since (a developer's edit, a half-finished deploy)
// means a cold start, never stale code; Pyodide itself refuses a snapshot of another build.
//
// Made in Node, restored in a browser: Python may hold the JavaScript globals (`js`, and the page's
// `js.vitlensJS` and `js.document`, which the snapshot records as paths from the global object), but
// nothing it reads from them at import time could be right in the browser. Both are stand-ins here
// that record every property read; any beyond the ones Pyodide reads to classify a proxy stops
// the build.
import { loadPyodide } from "../web/vendor/pyodide/pyodide.mjs";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const WEB = new URL("../web/", import.meta.url);
const OUT = new URL("vendor/python-snapshot.gz", WEB);
const LISTING = new URL("vendor/python-snapshot.json", WEB);
const HOME = "/home/pyodide/page";  // where web/js/python.js writes the page's files (it checks "home")

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");
const { files } = JSON.parse(readFileSync(new URL("py/files.json", WEB)));
const sources = Object.fromEntries(files.map((f) => [f, readFileSync(new URL(`py/${f}`, WEB))]));
const runtime = ["pyodide.asm.wasm", "pyodide.asm.mjs", "python_stdlib.zip"];
const listing = {
  home: HOME,
  files: Object.fromEntries(files.map((f) => [f, sha256(sources[f])])),
  runtime: Object.fromEntries(runtime.map((f) => [f, sha256(readFileSync(new URL(`vendor/pyodide/${f}`, WEB)))])),
};

function unchanged() {
  if (!existsSync(OUT) || !existsSync(LISTING)) return false;
  const old = JSON.parse(readFileSync(LISTING));
  return JSON.stringify({ home: old.home, files: old.files, runtime: old.runtime }) === JSON.stringify(listing);
}

// What Pyodide reads of any object to choose its proxy type; anything else is the page's own use.
const CLASSIFY = new Set(["constructor", "then", "next", "get", "set", "has", "includes"]);
const read = [];
function standIn(name) {
  return new Proxy({}, { get(target, key) {
    if (typeof key === "string" && !CLASSIFY.has(key)) read.push(`${name}.${key}`);
    return undefined;
  } });
}

if (unchanged()) {
  console.error("web/vendor/python-snapshot.gz is up to date");
} else {
  const started = Date.now();
  globalThis.vitlensJS = standIn("vitlensJS");
  globalThis.document = standIn("document");
  const pyodide = await loadPyodide({ indexURL: new URL("vendor/pyodide/", WEB).pathname, _makeSnapshot: true });
  pyodide.FS.mkdirTree(HOME);
  for (const [file, bytes] of Object.entries(sources)) pyodide.FS.writeFile(`${HOME}/${file}`, bytes);
  const modules = files.filter((f) => f !== "main.py").map((f) => f.replace(/\.py$/, ""));
  pyodide.runPython(`import sys\nsys.path.insert(0, ${JSON.stringify(HOME)})\nimport ${modules.join(", ")}`);
  if (read.length) throw new Error(`the page's Python reads ${[...new Set(read)].join(", ")} at import time: ` +
                                   "a snapshot would keep Node's value; read it when the page runs");
  const snapshot = gzipSync(pyodide.makeMemorySnapshot(), { level: 6 });
  const tmp = new URL(`vendor/python-snapshot.gz.${process.pid}`, WEB);
  writeFileSync(tmp, snapshot);
  renameSync(tmp, OUT);
  writeFileSync(LISTING, JSON.stringify({ ...listing, sha256: sha256(snapshot), bytes: snapshot.length, modules },
                                        null, 1) + "\n");
  console.error(`web/vendor/python-snapshot.gz: ${(snapshot.length / 1e6).toFixed(1)} MB, ` +
                `${modules.length} modules, made in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
