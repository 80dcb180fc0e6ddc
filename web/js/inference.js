// The page's side of onnxruntime-web: its sessions live in a Web Worker (inference_worker.js), so a
// forward pass never holds the page, and the first pass runs there as one chain. Sessions and their
// runs look like onnxruntime-web's own (inputNames, outputNames, run, release); outputs are ort.Tensors.
import * as ort from "../vendor/ort/ort.wasm.min.mjs";

const pending = new Map();  // call id -> {resolve, reject}
let nextCall = 0;
let worker = null;
let local = null;  // no Web Workers here: the same calls, in this thread

// Background runs (a faithfulness curve, a head ablation) yield to the user: a part of theirs starts
// only once no pointer, key or input event has come for QUIET ms, since a run takes the machine's
// cores. The time of the last input (ms since the epoch) is shared with the worker, which waits
// between a background chain's parts; without shared memory the page waits before the chain.
const QUIET = 150;
const shared = typeof SharedArrayBuffer === "function" && self.crossOriginIsolated;  // no such global when not isolated
const lastInput = new Float64Array(shared ? new SharedArrayBuffer(8) : new ArrayBuffer(8));
const epochNow = () => performance.timeOrigin + performance.now();
if (typeof document === "object") {
  for (const type of ["pointerdown", "pointermove", "keydown", "input", "change", "wheel"]) {
    document.addEventListener(type, () => { lastInput[0] = epochNow(); }, { capture: true, passive: true });
  }
}

function whenIdle() {
  return new Promise((resolve) => {
    const check = () => (epochNow() - lastInput[0] >= QUIET ? resolve() : setTimeout(check, 40));
    check();
  });
}

// `transfer`: buffers handed over to the worker (detached here) instead of copied.
function call(name, args, transfer = []) {
  if (!worker) return local.then(({ calls }) => calls[name](args));
  return new Promise((resolve, reject) => {
    const id = nextCall++;
    pending.set(id, { resolve, reject });
    worker.postMessage({ call: name, id, args }, transfer);
  });
}

function answer({ data: { id, result, error } }) {
  const { resolve, reject } = pending.get(id);
  pending.delete(id);
  if (error === undefined) resolve(result);
  else reject(new Error(error));
}

// A failure of the worker itself (its script not loading): every call waiting fails with it.
function fail(event) {
  const error = new Error(`the inference worker failed: ${event.message || "its script did not load"}`);
  for (const { reject } of pending.values()) reject(error);
  pending.clear();
}

// Starts the worker (or, without Web Workers, onnxruntime-web in this thread) with `numThreads`.
export function start(numThreads) {
  if (typeof Worker === "function") {
    worker = new Worker(new URL("./inference_worker.js", import.meta.url), { type: "module" });
    worker.onmessage = answer;
    worker.onerror = fail;
  } else {
    local = import("./inference_worker.js");
  }
  return call("configure", { wasmPaths: new URL("../vendor/ort/", import.meta.url).href, numThreads,
                             idle: worker && shared ? { lastInput, quiet: QUIET } : null });
}

// Tensors cross to the worker as plain {type, data, dims}; the worker's copies are its own, and the
// page keeps its tensors (a block's output is the next block's input and stays on screen).
function plainFeeds(feeds) {
  return Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, { type: t.type, data: t.data, dims: t.dims }]));
}

function tensors(outputs) {
  return Object.fromEntries(Object.entries(outputs).map(([name, t]) => [name, new ort.Tensor(t.type, t.data, t.dims)]));
}

// `created` resolves once the worker has created it (and its inputNames and outputNames are known);
// runs may be asked for before: the worker keeps them until then.
class Session {
  constructor(id, created) {
    this.id = id;
    this.created = created.then(({ inputNames, outputNames }) => Object.assign(this, { inputNames, outputNames }));
  }
  async run(feeds, fetches) {
    return tensors(await call("run", { id: this.id, feeds: plainFeeds(feeds), fetches: fetches && Array.from(fetches) }));
  }
  release() { return call("release", { id: this.id }); }
}

let nextSession = 0;

// A session from a model's bytes, at once: see Session.created. An ArrayBuffer (what files.js
// reads) is handed over to the worker, not copied: it is detached here.
export function openSession(bytes) {
  const id = nextSession++;
  return new Session(id, call("create", { id, bytes }, bytes instanceof ArrayBuffer ? [bytes] : []));
}

export async function createSession(bytes) {
  return (await openSession(bytes).created);
}

// One run of a pass in the worker: `preprocess` (a Session, or null when `feeds` is the first
// stage's input already) on `feeds`, then each stage of `stages` ([{session, input, wanted,
// last, gather, extra}]) on the previous one's output `last` (a what-if run: `gather`, the token
// indices a part reads; `extra`, more feeds such as a head mask). Returns {kept: every tensor kept, by name; elapsed:
// the ms its runs took in the worker, not waiting for a session to exist; finished: when, on the
// page's clock}. `background`: a run that yields to the user before each part (see QUIET).
export async function chain(preprocess, feeds, stages, background = false) {
  const parts = stages.map(({ session, input, wanted, last, gather, extra }) => (
    { id: session.id, input, wanted, last, gather: gather && Array.from(gather), extra: extra && plainFeeds(extra) }));
  const yields = background && worker !== null && shared;
  if (background && !yields) await whenIdle();
  const { kept, elapsed, finished } = await call("chain", { preprocess: preprocess?.id ?? null, feeds: plainFeeds(feeds),
                                                           stages: parts, background: yields });
  return { kept: tensors(kept), elapsed, finished: finished - performance.timeOrigin };
}
