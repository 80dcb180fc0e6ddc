// Threads need a cross-origin isolated page. Served by serve.py it already is; on a static host
// without COOP/COEP headers, the page's own service worker (sw.js) adds them: the first visit
// registers it and reloads once. Where that cannot work (no service workers, an insecure origin,
// a browser that still refuses), the page runs in one thread and says why (boot.js).
const RELOADED = "vitlens:isolation-reload";

export async function isolate() {
  if (self.crossOriginIsolated) {
    sessionStorage.removeItem(RELOADED);
    return;
  }
  if (!self.isSecureContext || !("serviceWorker" in navigator) || sessionStorage.getItem(RELOADED)) return;
  try {
    await navigator.serviceWorker.register(new URL("../sw.js", import.meta.url));
    await navigator.serviceWorker.ready;
  } catch (error) {
    console.warn(`no service worker for cross-origin isolation: ${error}`);
    return;
  }
  sessionStorage.setItem(RELOADED, "1");  // once: a browser that stays unisolated is not reloaded again
  location.reload();
  await new Promise(() => {});  // the page is being replaced
}
