// Loading screen and the page's JavaScript runtime: fetch the runtime with a real progress bar,
// set up onnxruntime-web, then start PyScript, which runs the page's Python (web/py/main.py).
// Everything is fetched by relative URL from the page's own origin.
import * as ort from "../vendor/ort/ort.wasm.min.mjs";
import * as draw from "./draw.js";
import * as overview from "./overview.js";
import * as detail from "./detail.js";
import * as operations from "./operations.js";
import * as interpret from "./interpret.js";
import { renderKnowledgeGraph } from "./knowledge.js";

const bar = document.getElementById("loading-bar");
const label = document.getElementById("loading-label");
const errors = [];  // uncaught page errors, readable by tests in any browser

window.addEventListener("error", (e) => errors.push(String(e.message || e)));
window.addEventListener("unhandledrejection", (e) => errors.push(String(e.reason)));

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
  ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, cores) : 1;
  ort.env.logLevel = "error";
  return ort.env.wasm.numThreads;
}

async function createSession(buffer) {
  return ort.InferenceSession.create(buffer, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
}

// A tensor from a typed array (kept as it is) or from a plain list of numbers.
function tensor(type, data, dims) {
  if (type === "int64" && !(data instanceof BigInt64Array)) data = BigInt64Array.from(data, (x) => BigInt(x));
  if (type === "float32" && !(data instanceof Float32Array)) data = Float32Array.from(data);
  return new ort.Tensor(type, data, Array.from(dims));
}

async function preloadRuntime() {
  const listing = await (await fetch(new URL("../vendor/files.json", import.meta.url))).json();
  const total = listing.preload.reduce((sum, f) => sum + f.bytes, 0);
  let loaded = 0;
  await Promise.all(listing.preload.map((file) =>
    fetchBytes(new URL(`../vendor/${file.path}`, import.meta.url), (n) => {
      loaded += n;
      progress(0.5 * loaded / total, `Downloading the runtime: ${megabytes(loaded)} of ${megabytes(total)}`);
    })));
}

window.vitlensJS = { progress, fetchBytes, decodeImage, createSession, tensor, draw, overview, detail, operations, interpret, renderKnowledgeGraph, errors,
                     threads: configureOrt(), isolated: self.crossOriginIsolated, now: () => performance.now() };

try {
  await preloadRuntime();
  progress(0.5, "Starting Python (Pyodide)…");
  await import("../vendor/pyscript/core.js");
} catch (error) {
  errors.push(String(error));
  progress(0, `Could not start: ${error.message}`);
  document.body.dataset.status = "error";
}
