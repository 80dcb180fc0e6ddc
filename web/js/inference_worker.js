// onnxruntime-web's sessions, in a Web Worker of the page's own (inference.js starts it). A pass,
// the whole chain of parts, is one message: it goes on while the main thread is busy, for instance
// restoring Python at the start, where a chain driven part by part from the page would wait for the
// main thread between parts. Where a page cannot start a worker, inference.js calls `calls` directly.
import * as ort from "../vendor/ort/ort.wasm.min.mjs";

const sessions = new Map();  // id (given by the page) -> the InferenceSession, once created
let idle = null;  // {lastInput: the page's shared Float64Array, quiet}: see inference.js's QUIET

// Before each part of a background chain: wait until the page has had no input for `quiet` ms.
async function whenIdle() {
  for (;;) {
    const waited = performance.timeOrigin + performance.now() - idle.lastInput[0];
    if (waited >= idle.quiet) return;
    await new Promise((resolve) => setTimeout(resolve, idle.quiet - waited));
  }
}

// Measured on the start (python -m bench, and the same with each option alone): graph optimisation
// and the memory arena cost more when a session is created and first run than they save later, so
// both are off. The float16 weights' Cast nodes then run on every pass instead of being folded.
// Errors only are logged: the head masks' default values (initialisers a what-if run overrides) are meant.
const OPTIONS = { executionProviders: ["wasm"], graphOptimizationLevel: "disabled", enableCpuMemArena: false,
                  enableMemPattern: false, logSeverityLevel: 3 };

// Tensors cross between threads as plain {type, data, dims}.
const tensor = ({ type, data, dims }) => new ort.Tensor(type, data, dims);
const plain = ({ type, data, dims }) => ({ type, data, dims });

function feeds(named) {
  return Object.fromEntries(Object.entries(named).map(([name, t]) => [name, tensor(t)]));
}

// `timing.ms` adds up the time of the run itself, not of waiting for its session to be created.
async function run(id, named, fetches, timing = { ms: 0 }) {
  const session = await sessions.get(id);
  const started = performance.now();
  const outputs = await (fetches ? session.run(feeds(named), fetches) : session.run(feeds(named)));
  timing.ms += performance.now() - started;
  return Object.fromEntries(Object.entries(outputs).map(([name, t]) => [name, plain(t)]));
}

// The rows `tokens` of a (1, tokens, dim) tensor: the tokens a what-if run keeps.
function gatherTokens({ type, data, dims }, tokens) {
  const dim = dims[2];
  const out = new data.constructor(tokens.length * dim);
  tokens.forEach((token, i) => out.set(data.subarray(token * dim, (token + 1) * dim), i * dim));
  return { type, data: out, dims: [1, tokens.length, dim] };
}

export const calls = {
  configure({ wasmPaths, numThreads, idle: shared }) {
    idle = shared;
    ort.env.wasm.wasmPaths = wasmPaths;
    ort.env.wasm.numThreads = numThreads;
    ort.env.wasm.proxy = false;
    ort.env.logLevel = "error";
  },
  // A run of the session may be asked for before it exists: it waits for it.
  async create({ id, bytes }) {
    const creating = ort.InferenceSession.create(bytes, OPTIONS);
    sessions.set(id, creating);
    creating.catch(() => sessions.delete(id));
    const session = await creating;
    return { inputNames: session.inputNames, outputNames: session.outputNames };
  },
  run: ({ id, feeds, fetches }) => run(id, feeds, fetches),
  // `stages`: [{id, input, wanted, last, gather, extra}]: each part's input is the previous part's
  // output `last`, the first's is the model's input (the manifest's pixel_values), which preprocess.onnx
  // outputs; without `preprocess`, `feeds` holds the first part's input itself. A what-if edit: `gather`
  // (token indices) leaves the other tokens out of a part's input, `extra` feeds more inputs (a head mask).
  // `background`: wait for the page to be idle before each part.
  async chain({ preprocess, feeds, stages, background }) {
    const timing = { ms: 0 };
    const first = stages[0].input;
    let value = preprocess === null ? feeds[first] : (await run(preprocess, feeds, undefined, timing))[first];
    const kept = { [first]: value };
    for (const stage of stages) {
      if (background) await whenIdle();
      if (stage.gather) kept[stage.input] = value = gatherTokens(value, stage.gather);
      Object.assign(kept, await run(stage.id, { [stage.input]: value, ...stage.extra }, stage.wanted, timing));
      value = kept[stage.last];
    }
    // the page's clock has another origin
    return { kept, elapsed: timing.ms, finished: performance.timeOrigin + performance.now() };
  },
  async release({ id }) {
    await (await sessions.get(id))?.release();
    sessions.delete(id);
  },
};

// The buffers of a result's tensors go back to the page without a copy.
function buffers(result, found = new Set()) {
  if (ArrayBuffer.isView(result)) found.add(result.buffer);
  else if (result && typeof result === "object") Object.values(result).forEach((v) => buffers(v, found));
  return [...found];
}

if (typeof WorkerGlobalScope === "function" && self instanceof WorkerGlobalScope) {
  self.onmessage = async ({ data: { call, id, args } }) => {
    try {
      const result = await calls[call](args);
      self.postMessage({ id, result }, buffers(result));
    } catch (error) {
      self.postMessage({ id, error: String(error?.message ?? error) });
    }
  };
}
