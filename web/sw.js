// The page's one service worker: cross-origin isolation for hosts that cannot send the headers,
// and the page offline after its first visit.
//
// Isolation: threaded WebAssembly needs SharedArrayBuffer, which needs COOP and COEP on the page's
// responses. serve.py sends them; many static hosts cannot. This worker adds them to every
// same-origin response it hands over (js/isolate.js reloads once on such a host). It installs and
// activates at once, with nothing to download first, so that reload is not held back.
//
// Offline: precache.json (written at build time by scripts/precache.py) lists the page, its
// scripts, Python, styles, icons, the runtime in vendor/ and the default model, each with its
// sha256; its "version" is the digest of the list. After the page's first prediction it asks
// (postMessage "keep", js/isolate.js) for the list to be kept: then, not at install, so 75 MB do
// not compete with the first load. Small files go to a cache named after the version; model parts
// (.onnx, .bin) to js/files.js's MODEL_CACHE under url?sha256=…, where the page reads them with no
// request. Every file is checked against its digest; files that did not change are copied from the
// previous version's cache, not downloaded again. Older versions' caches are deleted only once the
// new one is complete, so a failed update leaves the previous version working offline; a model
// file's older digest is deleted when its new one is in (as js/files.js does).
//
// Serving: network first for every same-origin request, the cache only when the network fails.
// Online the page is exactly what the server has, so a new deploy is never stale (not even for one
// load, and the HTML, scripts and runtime are never mixed across deploys); serve.py's
// "Cache-Control: no-cache" makes unchanged files a 304. Offline it is the last complete version.
// A model opened online that is not the default is kept too (its files into the current version),
// so it also opens offline until the next deploy. Nothing from another origin is touched.
//
// The runtime's WebAssembly (.wasm) is the one exception online, for speed: see answerRuntime.
const PREFIX = "vitlens-app-";
const MODEL_CACHE = "vitlens-model-files-v1";  // js/files.js's
const LARGE = /\.(onnx|bin)$/;
const COMPLETE = "precache.json";  // written last: a version's cache holding it is complete

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function isolated(response) {
  if (response.status === 0) return response;  // opaque: nothing to add
  const headers = new Headers(response.headers);
  headers.set("Cross-Origin-Opener-Policy", "same-origin");
  headers.set("Cross-Origin-Embedder-Policy", "require-corp");
  headers.set("Cross-Origin-Resource-Policy", "same-origin");
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

// Offline: the same path from the oldest complete version (caches.match looks in creation order),
// the page itself for a navigation to the folder.
async function kept(request) {
  const url = new URL(request.url);
  const path = request.mode === "navigate" && url.pathname.endsWith("/") ? `${url.pathname}index.html` : url.pathname;
  return caches.match(url.origin + path, { ignoreVary: true });
}

async function answer(request) {
  try {
    return isolated(await fetch(request));
  } catch (offline) {
    const response = await kept(request);
    if (response) return isolated(response);
    throw offline;
  }
}

// Chromium keeps a WebAssembly module's compiled code, and starts the next load with its optimised
// code, only for a response from the HTTP cache or the Cache API as it is: not for one this worker
// fetched and handed over, and not for a copy with headers added. So a .wasm file is answered with
// the kept copy, unchanged, when that copy is the file this deploy lists: its sha256 in the deploy's
// precache.json, asked from the network first (a 304), so a new deploy is still never stale. In any
// other case it is answered as any file. Measured (python -m bench, warm): the first forward pass
// 1.0 s -> 0.5 s, the prediction shown 2.2 s -> 1.7 s.
async function answerRuntime(request) {
  let listing;
  try {
    listing = await deployListing();
  } catch {
    return answer(request);  // offline, or no listing: the kept copy, if any, as any file
  }
  const url = new URL(request.url);
  const sha256 = listing.files?.[url.pathname.slice(new URL(self.registration.scope).pathname.length)];
  if (!sha256) return answer(request);
  for (const name of (await caches.keys()).filter((n) => n.startsWith(PREFIX))) {
    const copy = await (await caches.open(name)).match(url.origin + url.pathname);
    if (copy?.headers.get("X-Sha256") === sha256) return copy;
  }
  return answer(request);
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (request.cache === "only-if-cached" && request.mode !== "same-origin") return;
  if (request.headers.has("range")) return;
  event.respondWith(url.pathname.endsWith(".wasm") ? answerRuntime(request) : answer(request));
});

// The deploy's precache.json, from the network (a 304 when it did not change).
async function deployListing() {
  return (await fetch(new URL(COMPLETE, self.registration.scope), { cache: "no-cache" })).json();
}

const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");

// One file, checked against its digest (none for a model's manifest.json, which carries the others').
async function download(url, sha256) {
  const response = await fetch(url, { cache: "no-cache" });
  if (!response.ok) throw new Error(`${url.pathname}: HTTP ${response.status}`);
  const buffer = await response.arrayBuffer();
  if (sha256 && hex(await crypto.subtle.digest("SHA-256", buffer)) !== sha256) {
    throw new Error(`${url.pathname} is not the file precache.json lists (a deploy in progress?)`);
  }
  return new Response(buffer, { headers: { "Content-Type": response.headers.get("Content-Type") || "",
                                           "X-Sha256": sha256 || "" } });
}

async function keepFile(cache, models, previous, path, sha256) {
  const url = new URL(path, self.registration.scope);
  if (LARGE.test(url.pathname) && sha256) {
    const key = new URL(url);
    key.searchParams.set("sha256", sha256);
    if (await models.match(key.href)) return;
    const response = await download(url, sha256);
    for (const old of await models.keys()) {
      if (new URL(old.url).pathname === url.pathname) await models.delete(old);
    }
    await models.put(key.href, response);
    return;
  }
  const key = url.origin + url.pathname;
  if (sha256 && (await cache.match(key))?.headers.get("X-Sha256") === sha256) return;
  const old = sha256 && await previous.match(key);
  await cache.put(key, old?.headers.get("X-Sha256") === sha256 ? old : await download(url, sha256));
}

// Keeps the version precache.json names (and the model the page shows), then drops older versions.
async function keep(base, manifest) {
  const listing = await deployListing();
  const name = PREFIX + listing.version;
  const cache = await caches.open(name);
  const models = await caches.open(MODEL_CACHE);
  const older = (await caches.keys()).filter((n) => n.startsWith(PREFIX) && n !== name);
  const previous = { match: async (key) => (await Promise.all(older.map(async (n) => (await caches.open(n)).match(key)))).find(Boolean) };
  const complete = new URL(COMPLETE, self.registration.scope).href;
  if (!(await cache.match(complete))) {
    for (const [path, sha256] of Object.entries(listing.files)) await keepFile(cache, models, previous, path, sha256);
    await cache.put(complete, new Response(JSON.stringify(listing)));
  }
  if (!(`${base}/manifest.json` in listing.files)) {  // a model other than the default one
    await keepFile(cache, models, previous, `${base}/manifest.json`, "");
    for (const [file, { sha256 }] of Object.entries(manifest.files || {})) {
      await keepFile(cache, models, previous, `${base}/${file}`, sha256);
    }
  }
  for (const n of older) await caches.delete(n);
}

self.addEventListener("message", (event) => {
  if (event.data?.type !== "keep") return;
  const { base, manifest } = event.data;
  event.waitUntil(keep(base, manifest)
    .then(() => event.source?.postMessage({ type: "kept", base }))
    .catch((error) => event.source?.postMessage({ type: "kept", base, error: String(error) })));
});
