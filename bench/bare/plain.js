// The plain model in onnxruntime-web (see plain.html), configured as web/js/boot.js configures it:
// plain.html?model=URL&runs=N&warmup=W sets window.plainResult = { times, threads, create_ms }.
import * as ort from "./vendor/ort/ort.wasm.min.mjs";

const query = new URLSearchParams(location.search);
ort.env.wasm.wasmPaths = new URL("./vendor/ort/", location.href).href;
ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
ort.env.wasm.proxy = true;
ort.env.logLevel = "error";

const model = new Uint8Array(await (await fetch(query.get("model"))).arrayBuffer());
let started = performance.now();
const session = await ort.InferenceSession.create(model, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
const createMs = performance.now() - started;
const [height, width] = query.get("size").split("x").map(Number);
const pixels = Float32Array.from({ length: 3 * height * width }, (_, i) => Math.sin(i));
const times = [];
for (let i = 0; i < Number(query.get("warmup")) + Number(query.get("runs")); i++) {
  const feeds = { pixel_values: new ort.Tensor("float32", pixels.slice(), [1, 3, height, width]) };
  started = performance.now();
  await session.run(feeds);
  if (i >= Number(query.get("warmup"))) times.push(performance.now() - started);
}
window.plainResult = { times, threads: ort.env.wasm.numThreads, create_ms: createMs };
