// Cross-origin isolation for static hosts that cannot send the headers. Threaded WebAssembly needs
// SharedArrayBuffer, which needs the page to be cross-origin isolated: COOP and COEP on its
// responses. serve.py sends them; many static hosts and CDNs cannot. This service worker, from
// the page's own origin, adds them to the page's same-origin responses (js/isolate.js registers it
// on the first visit and reloads once). It touches nothing else: no caching, no other origin.
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (new URL(request.url).origin !== self.location.origin) return;
  if (request.cache === "only-if-cached" && request.mode !== "same-origin") return;
  event.respondWith(fetch(request).then((response) => {
    if (response.status === 0) return response;  // opaque: nothing to add
    const headers = new Headers(response.headers);
    headers.set("Cross-Origin-Opener-Policy", "same-origin");
    headers.set("Cross-Origin-Embedder-Policy", "require-corp");
    headers.set("Cross-Origin-Resource-Policy", "same-origin");
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  }));
});
