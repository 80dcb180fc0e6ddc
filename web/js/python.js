// Starts the page's Python (web/py/, listed in py/files.json) on Pyodide and runs py/main.py.
//
// A cold start of the interpreter takes seconds. The build (scripts/snapshot.mjs) saves Pyodide's
// memory after it has started and imported the page's modules; restoring it skips both. It is used
// only when every Python file it was made from is byte for byte the one this page has (sha256), and
// Pyodide itself refuses a snapshot of another build; in any other case, or if it cannot be read,
// Python starts cold, which is slower and otherwise the same. body[data-python] says which.
import { loadPyodide } from "../vendor/pyodide/pyodide.mjs";
import { sha256Hex } from "./digest.js";
import { fetchModelFile, keptDerived } from "./files.js";

const HOME = "/home/pyodide/page";  // the page's files, as scripts/snapshot.mjs imported them
const PYODIDE = new URL("../vendor/pyodide/", import.meta.url).href;
const PY = new URL("../py/", import.meta.url);
const LISTING = new URL("../vendor/python-snapshot.json", import.meta.url);

async function sources() {
  const { files } = await (await fetch(new URL("files.json", PY))).json();
  const bytes = await Promise.all(files.map(async (file) => {
    const response = await fetch(new URL(file, PY));
    if (!response.ok) throw new Error(`py/${file}: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }));
  return Object.fromEntries(files.map((file, i) => [file, bytes[i]]));
}

// The snapshot, if it was made from exactly these files, else null (and why, on the console). Its
// gzip (6 MB) is downloaded only once the first prediction is drawn, so that a first visit's
// prediction does not wait for it; inflated (31 MB) it is kept in the Cache API, read from there with
// no request: inflating it held the main thread about 0.2 s at every start.
async function matchingSnapshot(files, firstPrediction) {
  if (!self.crypto?.subtle || !self.DecompressionStream) return null;  // an insecure origin, an old browser
  const response = await fetch(LISTING);
  if (!response.ok) return null;  // not built: a cold start
  const listing = await response.json();
  const digests = await Promise.all(Object.values(files).map(sha256Hex));
  const names = Object.keys(files);
  const changed = names.filter((file, i) => listing.files?.[file] !== digests[i]);
  if (listing.home !== HOME || changed.length || Object.keys(listing.files).length !== names.length) {
    console.info(`Python starts cold: its snapshot was made from other files (${changed.join(", ") || "the list"})`);
    return null;
  }
  const inflated = await keptDerived("vendor", "python-snapshot.bin", listing.sha256, async () => {
    const gz = await fetchModelFile("vendor", "python-snapshot.gz", { files: { "python-snapshot.gz": listing } },
                                    () => {}, firstPrediction);
    return new Response(new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip"))).arrayBuffer();
  });
  return new Uint8Array(inflated);
}

async function interpreter(files, firstPrediction) {
  let snapshot = null;
  try {
    snapshot = await matchingSnapshot(files, firstPrediction);
    performance.mark("vitlens:python-snapshot-read");
  } catch (error) {
    console.info(`Python starts cold: its snapshot could not be read (${error})`);
  }
  if (snapshot) {
    // Restoring holds the main thread for a few hundred ms; the first pass runs in the inference
    // worker meanwhile (inference.js), so it is not held back.
    try {
      return { pyodide: await loadPyodide({ indexURL: PYODIDE, _loadSnapshot: snapshot }), start: "snapshot" };
    } catch (error) {
      console.info(`Python starts cold: its snapshot was refused (${error.message})`);
    }
  }
  await firstPrediction;  // a cold start holds the main thread for seconds
  return { pyodide: await loadPyodide({ indexURL: PYODIDE }), start: "cold" };
}

// `firstPrediction`: boot.js's first prediction, drawn; what must not wait for Python waits for it.
export async function startPython(firstPrediction) {
  const files = await sources();
  performance.mark("vitlens:python-sources");
  const { pyodide, start } = await interpreter(files, firstPrediction);
  document.body.dataset.python = start;
  performance.mark("vitlens:python-loaded", { detail: start });
  pyodide.FS.mkdirTree(HOME);
  for (const [file, bytes] of Object.entries(files)) pyodide.FS.writeFile(`${HOME}/${file}`, bytes);
  pyodide.runPython(`import sys, importlib\nif ${JSON.stringify(HOME)} not in sys.path: sys.path.insert(0, ${JSON.stringify(HOME)})\nimportlib.invalidate_caches()`);
  await pyodide.runPythonAsync(new TextDecoder().decode(files["main.py"]), { filename: `${HOME}/main.py` });
}
