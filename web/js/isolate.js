// Threads need a cross-origin isolated page. Served by serve.py it already is; on a static host
// without COOP/COEP headers, the page's own service worker (sw.js) adds them: the first visit
// registers it and reloads once. Where that cannot work (no service workers, an insecure origin,
// a browser that still refuses), the page runs in one thread and says why (boot.js). The same
// worker keeps the page for offline use.
const RELOADED = "vitlens:isolation-reload";

export async function isolate() {
  if (!self.isSecureContext || !("serviceWorker" in navigator)) return;
  // Registered on every secure origin: the same worker keeps the page for offline use (sw.js).
  const registering = navigator.serviceWorker.register(new URL("../sw.js", import.meta.url))
    .catch((error) => console.warn(`no service worker: ${error}`));
  if (self.crossOriginIsolated) {
    sessionStorage.removeItem(RELOADED);
    return;
  }
  if (sessionStorage.getItem(RELOADED) || !(await registering)) return;
  await navigator.serviceWorker.ready;
  sessionStorage.setItem(RELOADED, "1");  // once: a browser that stays unisolated is not reloaded again
  location.reload();
  await new Promise(() => {});  // the page is being replaced
}

// After the page's first prediction (so it does not compete with the first load): asks the
// service worker to keep this deploy's files, and this model if it is not the default, for offline
// use (sw.js). body[data-offline] says "ready" once it has, "incomplete" if it could not (the
// tests wait for it); the page works online either way.
export async function keepForOffline(base, manifest) {
  if (!self.isSecureContext || !("serviceWorker" in navigator)) return;
  let registration;
  try { registration = await navigator.serviceWorker.ready; } catch { return; }
  navigator.serviceWorker.addEventListener("message", (event) => {
    if (event.data?.type !== "kept" || event.data.base !== base) return;
    document.body.dataset.offline = event.data.error ? "incomplete" : "ready";
    if (event.data.error) console.warn(`not kept for offline use: ${event.data.error}`);
  });
  registration.active?.postMessage({ type: "keep", base, manifest });
}
