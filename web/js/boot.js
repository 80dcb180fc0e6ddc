// Loading screen and the page's JavaScript runtime: fetch the runtime with a real progress bar,
// set up onnxruntime-web, then start PyScript, which runs the page's Python (web/py/main.py).
// Everything is fetched by relative URL from the page's own origin.
import { isolate, keepForOffline } from "./isolate.js";
import * as ort from "../vendor/ort/ort.wasm.min.mjs";
import * as draw from "./draw.js";
import * as overview from "./overview.js";
import * as detail from "./detail.js";
import * as operations from "./operations/index.js";
import * as interpret from "./interpret.js";
import * as tour from "./tour.js";
import { installViewSaves } from "./save_image.js";
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

// Fetch a file and report every chunk's bytes; resolves to an ArrayBuffer.
async function fetchBytes(url, onBytes) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const reader = response.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
    onBytes(value.length);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes.buffer;
}

// A model folder's files never change under their sha256 (the manifest lists it): they are kept in
// the Cache API under url?sha256=…, so a return visit reads them with no request at all, from any
// static host. A new export has new digests; the old entries of the same file are dropped. Without
// the Cache API (an insecure origin) or a digest, or when storage is full, it is a plain fetch.
const MODEL_CACHE = "vitlens-model-files-v1";

// A model file from the network; any failure names the file. A damaged or replaced file is named
// before onnxruntime-web sees it (crypto.subtle exists only in secure contexts; elsewhere
// onnxruntime-web's own parse error is what the page reports).
async function downloadModelFile(url, file, sha256, onBytes) {
  let buffer;
  try { buffer = await fetchBytes(url, onBytes); } catch (error) { throw new Error(`${file} could not be read: ${error.message}`); }
  if (!sha256 || !self.crypto?.subtle) return buffer;
  const digest = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", buffer)),
                            (b) => b.toString(16).padStart(2, "0")).join("");
  if (digest !== sha256) {
    throw new Error(`${file} is damaged: its sha256 is not the one manifest.json lists; export the model again`);
  }
  return buffer;
}

async function fetchModelFile(base, file, manifest, onBytes) {
  const url = new URL(`${base}/${file}`, location.href);
  const sha256 = manifest.files?.[file]?.sha256;
  let cache = null;
  if (sha256 && self.caches) {
    try { cache = await caches.open(MODEL_CACHE); } catch { cache = null; }
  }
  if (!cache) return downloadModelFile(url, file, sha256, onBytes);
  const key = new URL(url);
  key.searchParams.set("sha256", sha256);
  const hit = await cache.match(key.href);
  if (hit) {
    const buffer = await hit.arrayBuffer();
    onBytes(buffer.byteLength);
    return buffer;
  }
  const buffer = await downloadModelFile(url, file, sha256, onBytes);
  keep(cache, key, buffer, file);
  return buffer;
}

// Storing a file is off the start's path: its session is created as soon as its bytes are here,
// whatever the browser's storage does, and the files are written one after another, not all at once.
let cacheWrites = Promise.resolve();
function keep(cache, key, buffer, file) {
  const response = new Response(buffer);  // its own copy: onnxruntime-web's worker takes the buffer over
  cacheWrites = cacheWrites.then(async () => {
    for (const old of await cache.keys()) {
      if (new URL(old.url).pathname === key.pathname) await cache.delete(old);
    }
    await cache.put(key.href, response);
  }).catch((error) => console.warn(`not cached: ${file}: ${error}`));
}

// Decode any image the browser can decode into RGBA bytes, honouring EXIF orientation.
// Images larger than maxSide on a side are first reduced by the browser (canvas limits).
async function decodeImage(blob, maxSide) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(blob, { imageOrientation: "from-image", premultiplyAlpha: "none",
                                             colorSpaceConversion: "none" });
  } catch (error) {
    throw new Error("not an image the browser can decode");
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

function configureOrt() {
  ort.env.wasm.wasmPaths = new URL("../vendor/ort/", import.meta.url).href;
  const cores = navigator.hardwareConcurrency || 1;
  // Threads need SharedArrayBuffer: a cross-origin isolated page in an engine that ships it (WebKitGTK
  // keeps it behind JSC_useSharedArrayBuffer=1 even then); otherwise one thread, and the page says so.
  const shared = self.crossOriginIsolated && typeof SharedArrayBuffer === "function";
  ort.env.wasm.numThreads = shared ? Math.min(4, cores) : 1;
  // Inference runs in onnxruntime-web's own Web Worker, so the page stays responsive while it runs.
  ort.env.wasm.proxy = typeof Worker === "function";
  ort.env.logLevel = "error";
  return ort.env.wasm.numThreads;
}

// In the worker, onnxruntime-web takes over the buffers of a run's inputs (they are transferred, so
// detached here), but the page keeps its tensors: a block's output is the next block's input and
// stays on screen. Each run therefore sends copies.
class Session {
  constructor(session) { this.session = session; }
  run(feeds, fetches) {
    const copies = Object.fromEntries(Object.entries(feeds).map(
      ([name, t]) => [name, new ort.Tensor(t.type, t.data.slice(), t.dims)]));
    return fetches ? this.session.run(copies, fetches) : this.session.run(copies);
  }
  get inputNames() { return this.session.inputNames; }
  get outputNames() { return this.session.outputNames; }
  release() { return this.session.release(); }
}

// Measured on the start (python -m bench, and the same with each option alone): graph optimisation
// and the memory arena cost more when a session is created and first run than they save later, so
// both are off. The float16 weights' Cast nodes then run on every pass instead of being folded.
async function createSession(buffer) {
  return new Session(await ort.InferenceSession.create(buffer, {
    executionProviders: ["wasm"], graphOptimizationLevel: "disabled", enableCpuMemArena: false, enableMemPattern: false }));
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

async function preloadRuntime() {
  const listing = await (await fetch(new URL("../vendor/files.json", import.meta.url))).json();
  bytes.total += listing.preload.reduce((sum, f) => sum + f.bytes, 0);
  await Promise.all(listing.preload.map((file) => fetchBytes(new URL(`../vendor/${file.path}`, import.meta.url), countBytes)));
}

// The model the URL asks for (or the default) is downloaded and its sessions created while Python
// starts; Python takes them over (takeModel). On any problem this resolves to null and Python's
// own loading reports it.
async function preloadModel() {
  const requested = new URLSearchParams(location.hash.slice(1)).get("model");
  const index = await (await fetch("model/index.json")).json();
  const entry = index.models.find((m) => m.name === requested) || index.models.find((m) => m.name === index.default);
  const base = "model/" + entry.manifest.split("/").slice(0, -1).join("/");
  const manifest = await (await fetch(`model/${entry.manifest}`)).json();
  bytes.total += manifest.stages.reduce((sum, s) => sum + s.bytes, 0);
  const files = [manifest.preprocessing.graph, ...manifest.stages.map((s) => s.file)];
  const sessions = await Promise.all(files.map(async (f) => createSession(await fetchModelFile(base, f, manifest, countBytes))));
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
  const started = performance.now();
  const feeds = preprocessFeeds(image, manifest.preprocessing, sample.preprocess_inputs);
  let value = (await sessions[manifest.preprocessing.graph].run(feeds)).pixel_values;
  for (const stage of manifest.stages) {
    const last = stage.outputs[stage.outputs.length - 1];
    value = (await sessions[stage.file].run({ [stage.input]: value }, [last]))[last];
  }
  const elapsed = performance.now() - started;
  const probabilities = Array.from(value.data);
  const top = draw.probabilities("#prediction-list", manifest.labels, probabilities);
  document.getElementById("prediction-top").textContent = manifest.labels[top];
  document.getElementById("prediction-time").textContent =
    `Forward pass ${elapsed.toFixed(0)} ms in this browser, while Python starts; the views follow.`;
  document.getElementById("image-caption").textContent = `${sample.title} — ${sample.source} (${sample.licence})`;
  document.getElementById("model-title").textContent = manifest.title;
  draw.showImage(document.getElementById("image-canvas"), image.bitmap);
  const message = document.getElementById("message");
  message.textContent = "Python is starting: the gallery and the four views follow in a few seconds.";
  message.hidden = false;
  document.getElementById("loading").hidden = true;
  document.getElementById("app").hidden = false;
  document.body.dataset.preview = sample.id;
  window.vitlensJS.preview = { sample: sample.id, probabilities };
  performance.mark("vitlens:prediction-shown");
}
const threads = configureOrt();
const modelPreload = preloadModel().then((model) => { performance.mark("vitlens:model-preloaded"); return model; },
                                        () => null);

async function takeModel(base) {
  const preloaded = await modelPreload;
  if (!preloaded || preloaded.base !== base || preloaded.taken) return null;
  preloaded.taken = true;
  return preloaded.sessions;
}

window.vitlensJS = { progress, fetchBytes, fetchModelFile, decodeImage, preprocessFeeds, createSession, takeModel, tensor, draw, overview, detail, operations, interpret, tour, renderKnowledgeGraph, errors,
                     threads, isolated: self.crossOriginIsolated, now: () => performance.now(), keepForOffline };

// Order of the start, measured (python -m bench): runtime and model download together and the
// sessions are created in onnxruntime-web's worker; the first prediction is drawn; only then does
// Python start. Pyodide's start keeps the main thread busy for seconds, and everything before it
// needs that thread for a moment now and then: started together, both would finish late.
try {
  await preloadRuntime();
  performance.mark("vitlens:runtime-downloaded");
  const model = await modelPreload;
  if (model) await preview(model).catch((error) => console.warn(`no preview: ${error}`));
  progress(0.5, "Starting Python (Pyodide)…");
  await import("../vendor/pyscript/core.js");
} catch (error) {
  errors.push(String(error));
  progress(0, `Could not start: ${error.message}`);
  document.body.dataset.status = "error";
}
