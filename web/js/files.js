// Files the page downloads: with a progress callback, and (files with a sha256: the model's parts,
// Python's snapshot) checked and kept in the Cache API. A model opened from the user's disk
// (local_model.js) is read from there instead, checked the same way and kept nowhere.
import { checkDigest } from "./digest.js";
import { localModels } from "./local_model.js";

// Fetch a file and report every chunk's bytes; resolves to an ArrayBuffer.
export async function fetchBytes(url, onBytes) {
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
// before onnxruntime-web sees it (digest.js).
async function downloadModelFile(url, file, sha256, onBytes) {
  let buffer;
  try { buffer = await fetchBytes(url, onBytes); } catch (error) { throw new Error(`${file} could not be read: ${error.message}`, { cause: error }); }
  return checkDigest(buffer, file, sha256);
}

async function modelCache() {
  if (!self.caches) return null;
  try { return await caches.open(MODEL_CACHE); } catch { return null; }
}

// The bytes kept under url?sha256=… (read from there, `onBytes` told), else made by `make` and kept;
// without the Cache API, made each time.
async function keptBytes(url, sha256, file, make, onBytes = () => {}) {
  const cache = await modelCache();
  if (!cache) return make();
  const key = new URL(url);
  key.searchParams.set("sha256", sha256);
  const hit = await cache.match(key.href);
  if (hit) {
    const buffer = await hit.arrayBuffer();
    onBytes(buffer.byteLength);
    return buffer;
  }
  const buffer = await make();
  keep(cache, key, buffer, file);
  return buffer;
}

// `before`: a download waits for it (a file the start must not compete with).
export async function fetchModelFile(base, file, manifest, onBytes, before = null) {
  const sha256 = manifest.files?.[file]?.sha256;
  if (localModels.has(base)) return localModels.read(base, file, sha256, onBytes);
  const url = new URL(`${base}/${file}`, location.href);
  const download = async () => {
    await before;
    return downloadModelFile(url, file, sha256, onBytes);
  };
  return sha256 ? keptBytes(url, sha256, file, download, onBytes) : download();
}

// Bytes made from a kept file (Python's snapshot, inflated), kept beside it under the same sha256, so
// that a return visit reads them instead of making them again.
export function keptDerived(base, name, sha256, make) {
  return keptBytes(new URL(`${base}/${name}`, location.href), sha256, name, make);
}

// Storing a file is off the start's path: its session is created as soon as its bytes are here,
// whatever the browser's storage does, and the files are written one after another, not all at once.
let cacheWrites = Promise.resolve();
function keep(cache, key, buffer, file) {
  const response = new Response(buffer);  // its own copy: the inference worker takes the buffer over
  cacheWrites = cacheWrites.then(async () => {
    for (const old of await cache.keys()) {
      if (new URL(old.url).pathname === key.pathname) await cache.delete(old);
    }
    await cache.put(key.href, response);
  }).catch((error) => console.warn(`not cached: ${file}: ${error}`));
}
