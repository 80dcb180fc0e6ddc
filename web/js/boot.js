// Loading screen and the page's JavaScript runtime: fetch the runtime with a real progress bar,
// set up onnxruntime-web, then start Pyodide, which runs the page's Python (web/py/main.py).
// Everything is fetched by relative URL from the page's own origin.
import { isolate, keepForOffline } from "./isolate.js";
import { keyboardTabs } from "./tabs.js";
import { startPython } from "./python.js";
import { fetchBytes, fetchModelFile } from "./files.js";
import { localModels } from "./local_model.js";
import * as ort from "../vendor/ort/ort.wasm.min.mjs";
import * as inference from "./inference.js";
import * as draw from "./draw.js";
import * as overview from "./overview.js";
import * as detail from "./detail.js";
import * as operations from "./operations/index.js";
import * as interpret from "./interpret.js";
import * as edits from "./edits.js";
import * as whatif from "./whatif.js";
import * as atlas from "./atlas.js";
import * as tour from "./tour.js";
import { installViewSaves } from "./save_image.js";
import * as url from "./url.js";
import { renderKnowledgeGraph } from "./knowledge/index.js";

await isolate();  // may reload the page once, on a static host without COOP/COEP headers
installViewSaves();

const bar = document.getElementById("loading-bar");
const label = document.getElementById("loading-label");
const errors = [];  // uncaught page errors, readable by tests in any browser

window.addEventListener("error", (e) => errors.push(String(e.message || e)));
window.addEventListener("unhandledrejection", (e) => errors.push(String(e.reason)));
document.addEventListener("securitypolicyviolation",
                          (e) => errors.push(`CSP refused ${e.blockedURI || "inline code"} (${e.violatedDirective})`));

function progress(fraction, text) {
  bar.value = Math.max(0, Math.min(1, fraction));
  label.textContent = text;
}

function megabytes(bytes) {
  return (bytes / 1e6).toFixed(1) + " MB";
}

// Decode any image the browser can decode into RGBA bytes, honouring EXIF orientation.
// Images larger than maxSide on a side are first reduced by the browser (canvas limits).
async function decodeImage(blob, maxSide) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(blob, { imageOrientation: "from-image", premultiplyAlpha: "none",
                                             colorSpaceConversion: "none" });
  } catch (error) {
    throw new Error("not an image the browser can decode", { cause: error });
  }
  let { width, height } = bitmap;
  let reduced = false;
  if (Math.max(width, height) > maxSide) {
    const scale = maxSide / Math.max(width, height);
    width = Math.max(1, Math.round(width * scale));
    height = Math.max(1, Math.round(height * scale));
    bitmap.close();
    bitmap = await createImageBitmap(blob, { imageOrientation: "from-image", premultiplyAlpha: "none",
                                             colorSpaceConversion: "none", resizeWidth: width,
                                             resizeHeight: height, resizeQuality: "high" });
    reduced = true;
  }
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  const pixels = context.getImageData(0, 0, width, height);
  return { width, height, reduced, bitmap, rgba: new Uint8Array(pixels.data.buffer) };
}

// Threads need SharedArrayBuffer: a cross-origin isolated page in an engine that ships it (WebKitGTK
// keeps it behind JSC_useSharedArrayBuffer=1 even then); otherwise one thread, and the page says so.
function threadCount() {
  const shared = self.crossOriginIsolated && typeof SharedArrayBuffer === "function";
  return shared ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
}

// A tensor from a typed array (kept as it is) or from a plain list of numbers.
function tensor(type, data, dims) {
  if (type === "int64" && !(data instanceof BigInt64Array)) data = BigInt64Array.from(data, (x) => BigInt(x));
  if (type === "float32" && !(data instanceof Float32Array)) data = Float32Array.from(data);
  return new ort.Tensor(type, data, Array.from(dims));
}

// preprocess.onnx's inputs: the decoded RGBA image, the sizes computed by geometry.py (in the
// page's Python, or by the export step for the samples), and the recipe's numbers.
function preprocessFeeds(image, recipe, sizes) {
  const feeds = {};
  for (const [name, values] of Object.entries(sizes)) feeds[name] = tensor("int64", values, [values.length]);
  feeds.image = tensor("uint8", image.rgba, [1, image.height, image.width, 4]);
  feeds.rescale = tensor("float32", [recipe.rescale], []);
  feeds.mean = tensor("float32", recipe.mean, [3]);
  feeds.std = tensor("float32", recipe.std, [3]);
  return feeds;
}

// Bytes of the runtime and of the model, counted together by the loading bar.
const bytes = { loaded: 0, total: 0 };
function countBytes(n) {
  bytes.loaded += n;
  progress(0.5 * bytes.loaded / Math.max(1, bytes.total),
           `Downloading the runtime and the model: ${megabytes(bytes.loaded)} of ${megabytes(bytes.total)}`);
}

// The runtime's files (Pyodide, 13 MB) are read once here only so that the loading bar counts them
// on a first visit; Pyodide fetches them itself. Once the service worker keeps a complete copy of the
// page (sw.js: precache.json is written last), they are local and reading them again only held the
// start back (measured warm: the views interactive 0.1 s later), so it is skipped.
async function runtimeKept() {
  try {
    return Boolean(self.caches && await caches.match(new URL("../precache.json", import.meta.url).href));
  } catch {
    return false;
  }
}

async function preloadRuntime() {
  if (await runtimeKept()) return;
  const listing = await (await fetch(new URL("../vendor/files.json", import.meta.url))).json();
  bytes.total += listing.preload.reduce((sum, f) => sum + f.bytes, 0);
  await Promise.all(listing.preload.map((file) => fetchBytes(new URL(`../vendor/${file.path}`, import.meta.url), countBytes)));
}

// The model the URL asks for (or the default) is downloaded and its sessions opened in the worker
// while Python starts; Python takes them over (takeModel) once they are created. On any problem
// `modelPreload` resolves to null and Python's own loading reports it.
async function openModel() {
  const requested = new URLSearchParams(location.hash.slice(1)).get("model");
  const index = await (await fetch("model/index.json")).json();
  const entry = index.models.find((m) => m.name === requested) || index.models.find((m) => m.name === index.default);
  const base = "model/" + entry.manifest.split("/").slice(0, -1).join("/");
  const manifest = await (await fetch(`model/${entry.manifest}`)).json();
  bytes.total += manifest.stages.reduce((sum, s) => sum + s.bytes, 0);
  const files = [manifest.preprocessing.graph, ...manifest.stages.map((s) => s.file)];
  const sessions = await Promise.all(files.map(async (f) => inference.openSession(await fetchModelFile(base, f, manifest, countBytes))));
  return { base, manifest, sessions: Object.fromEntries(files.map((f, i) => [f, sessions[i]])) };
}

// Python needs a few seconds to start, the model far less: the first prediction does not wait. The
// image the URL names (or the first sample) goes through preprocess.onnx, with the sizes the export
// step computed for it, and the chain of parts; the head's own probabilities are drawn as Python
// would draw them. Python then takes the page over, runs the same image again and redraws.
async function preview({ base, manifest, sessions }) {
  const requested = new URLSearchParams(location.hash.slice(1)).get("image");
  const sample = manifest.samples.find((s) => s.id === requested) || manifest.samples[0];
  if (!sample?.preprocess_inputs) return;
  const image = await decodeImage(await (await fetch(`${base}/${sample.file}`)).blob(), Infinity);
  const feeds = preprocessFeeds(image, manifest.preprocessing, sample.preprocess_inputs);
  // what Python's first pass keeps (each stage's first_pass, written by the export), in one run of the worker
  const stages = manifest.stages.map((stage) => ({ session: sessions[stage.file], input: stage.input,
                                                    wanted: stage.first_pass, last: stage.outputs.at(-1),
                                                    extra: edits.headMask(stage, manifest.num_heads) }));
  const { kept, elapsed, finished } = await inference.chain(sessions[manifest.preprocessing.graph], feeds, stages);
  performance.mark("vitlens:first-pass-computed", { startTime: finished });  // in the worker, for the benchmark's trace
  const value = kept[stages[stages.length - 1].last];
  performance.mark("vitlens:first-pass");
  const probabilities = Array.from(value.data);
  draw.predictionCard(manifest.labels, probabilities,
                      `Forward pass ${elapsed.toFixed(0)} ms in this browser, while Python starts; the views follow.`);
  document.getElementById("image-caption").textContent = `${sample.title} — ${sample.source} (${sample.licence})`;
  document.getElementById("model-title").textContent = manifest.title;
  draw.showImage(document.getElementById("image-canvas"), image.bitmap);
  const message = document.getElementById("message");
  message.textContent = "Python is starting: the gallery and the four views follow in a few seconds.";
  message.hidden = false;
  document.getElementById("loading").hidden = true;
  document.getElementById("app").hidden = false;
  document.body.dataset.preview = sample.id;
  window.vitlensJS.preview = { sample: sample.id, probabilities, base, elapsed, kept, image, sizes: sample.preprocess_inputs };
  performance.mark("vitlens:prediction-shown");
}
const threads = threadCount();
inference.start(threads);
const modelOpened = openModel();
const modelPreload = modelOpened.then(async (model) => {
  await Promise.all(Object.values(model.sessions).map((session) => session.created));
  performance.mark("vitlens:model-preloaded");
  return model;
}).catch(() => null);

// The preview's tensors, for Python's first pass over the same image (runtime.py's `adopt`): once.
// Otherwise undefined, which is Python's None (null is not).
function takePreview(base, sample) {
  const preview = window.vitlensJS.preview;
  if (!preview || preview.taken || preview.base !== base || preview.sample !== sample) return undefined;
  preview.taken = true;
  return preview;
}

async function takeModel(base) {
  const preloaded = await modelPreload;
  if (!preloaded || preloaded.base !== base || preloaded.taken) return null;
  preloaded.taken = true;
  return preloaded.sessions;
}

window.vitlensJS = { progress, fetchBytes, fetchModelFile, decodeImage, preprocessFeeds, createSession: inference.createSession, chain: inference.chain, takeModel, takePreview, tensor, draw, overview, detail, operations, interpret, edits, whatif, atlas, tour, url, renderKnowledgeGraph, errors,
                     threads, isolated: self.crossOriginIsolated, now: () => performance.now(), keepForOffline,
                     localModels, modelURL: (base, file) => localModels.url(base, file) ?? `${base}/${file}` };

// Order of the start, measured (python -m bench): runtime and model download together, the sessions
// are opened in the inference worker and the first pass is asked of it at once (one run of the chain).
// Python reads its sources and snapshot meanwhile, starts from the snapshot (a few hundred ms of the
// main thread, while the worker runs the pass) and takes that prediction's tensors over (previewDone).
self.wireThemePicker(document.getElementById("theme-picker"));
keyboardTabs(document.querySelector("[role=tablist]"));
try {
  await preloadRuntime();
  performance.mark("vitlens:runtime-downloaded");
  // the first pass is asked for as soon as the sessions are opened: the worker runs it once they exist
  window.vitlensJS.previewDone = modelOpened
    .then((model) => preview(model))
    .catch((error) => console.warn(`no preview: ${error}`));
  progress(0.5, "Starting Python (Pyodide)…");
  await startPython(window.vitlensJS.previewDone);
} catch (error) {
  errors.push(String(error));
  progress(0, `Could not start: ${error.message}`);
  document.body.dataset.status = "error";
}
