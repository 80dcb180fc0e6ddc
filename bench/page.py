"""The in-browser half of the benchmarks: Debian's headless Chromium driven by Playwright."""
from __future__ import annotations

import json
import statistics
import tempfile
import threading
from pathlib import Path

from export.shared import names
from serve import make_server

from .chromium import CHROMIUM, FLAGS, READY

# Installed before any page script: records every WebAssembly memory the page creates (Pyodide's,
# onnxruntime-web's), so its size can be read.
PROBES = """
window.__bench = {memories: []};
const keep = (memory) => { if (memory instanceof WebAssembly.Memory) window.__bench.memories.push(memory); };
const NativeMemory = WebAssembly.Memory;
WebAssembly.Memory = function (descriptor) { const m = new NativeMemory(descriptor); keep(m); return m; };
WebAssembly.Memory.prototype = NativeMemory.prototype;
const record = (result) => {
  const instance = result instanceof WebAssembly.Instance ? result : result.instance;
  if (instance) Object.values(instance.exports).forEach(keep);
  return result;
};
const instantiate = WebAssembly.instantiate;
WebAssembly.instantiate = (...args) => instantiate(...args).then(record);
const streaming = WebAssembly.instantiateStreaming;
WebAssembly.instantiateStreaming = (...args) => streaming(...args).then(record);
"""

# `wanted` null: every output of every part, the parts run one by one from the page (as native
# onnxruntime runs them); else the page's own pass over a new image (web/py/runtime.py's forward,
# without preprocessing): one run of the chain in the inference worker, keeping `wanted[k]` of part k.
FORWARD = """
async ({base, stages, heads, wanted, runs, warmup}) => {
  const J = window.vitlensJS;
  const sessions = [];
  for (const s of stages) sessions.push(await J.createSession(await J.fetchBytes(`${base}/${s.file}`, () => {})));
  const pixels = stages[0].input;  // the model's input, pixel_values
  const input = J.current[pixels];
  const last = (s) => s.outputs[s.outputs.length - 1];
  const mask = (s) => J.edits.headMask(s, heads);
  const parts = wanted && stages.map((s, k) => ({session: sessions[k], input: s.input, wanted: wanted[k], last: last(s),
                                                 extra: mask(s)}));
  const pass = async () => {
    if (parts) return J.chain(null, {[pixels]: input}, parts);
    let value = input;
    for (const [k, s] of stages.entries()) value = (await sessions[k].run({[s.input]: value, ...mask(s)}))[last(s)];
  };
  const times = [];
  for (let i = 0; i < warmup + runs; i++) {
    const started = performance.now();
    await pass();
    if (i >= warmup) times.push(performance.now() - started);
  }
  for (const s of sessions) await s.release();
  return {times, threads: J.threads};
}
"""

# What-if runs as web/py/runtime.py runs them, from the kept embeddings output in one run of the chain
# in the worker: `edits`, each {keep: the tokens the blocks read (null: all), knock: a head mask per
# block (null: every head), wanted: "first" (what a re-run keeps) or "last" (a curve's step: each
# part's last output only)}; `runs` times each. Returns the times per edit.
EDITED = """
async ({base, stages, heads, edits, runs, warmup}) => {
  const J = window.vitlensJS;
  const blocks = stages.slice(1);
  const sessions = [];
  for (const s of blocks) sessions.push(await J.createSession(await J.fetchBytes(`${base}/${s.file}`, () => {})));
  const input = J.current['embeddings.output'];
  const out = [];
  for (const edit of edits) {
    const parts = blocks.map((s, k) => ({session: sessions[k], input: s.input, last: s.outputs[s.outputs.length - 1],
      wanted: edit.wanted === 'first' ? s.first_pass : [s.outputs[s.outputs.length - 1]],
      gather: k === 0 && edit.keep ? edit.keep : undefined,
      extra: J.edits.headMask(s, heads, edit.knock && edit.knock[k])}));
    const times = [];
    for (let i = 0; i < warmup + runs; i++) {
      const started = performance.now();
      await J.chain(null, {'embeddings.output': input}, parts);
      if (i >= warmup) times.push(performance.now() - started);
    }
    out.push(times);
  }
  for (const s of sessions) await s.release();
  return out;
}
"""

# The relevance of one class for the image on screen, as the page's runtime.relevance runs it:
# relevance.onnx on the kept embeddings' output and a one-hot target, fetching the two maps the
# Interpretation view reads; a new class each run (one-hot over the classes in turn).
RELEVANCE = """
async ({base, file, inputs, outputs, classes, blocks, heads, runs, warmup}) => {
  const J = window.vitlensJS;
  const session = await J.createSession(await J.fetchBytes(`${base}/${file}`, () => {}));
  const times = [];
  const every = J.tensor('float32', new Array(blocks * heads).fill(1), [blocks, heads]);  // the head mask: every head
  for (let i = 0; i < warmup + runs; i++) {
    const target = Array.from({length: classes}, (_, c) => (c === i % classes ? 1 : 0));
    const feeds = {[inputs[0]]: J.current[inputs[0]], [inputs[1]]: J.tensor('float32', target, [1, classes]),
                   [inputs[2]]: every};
    const started = performance.now();
    await session.run(feeds, outputs);
    if (i >= warmup) times.push(performance.now() - started);
  }
  await session.release();
  return times;
}
"""

VIEWS = """
async () => {
  const ready = {overview: () => document.querySelector('#overview-diagram svg'),
                 graph: () => document.querySelector('#knowledge-graph[data-ready=true]'),
                 detail: () => document.querySelector('#detail-canvas[data-tensor]'),
                 interpretation: () => document.querySelector('#interp-canvas[data-kind]')};
  for (const [view, check] of Object.entries(ready)) {
    document.querySelector(`[data-view-tab=${view}]`).click();
    while (!check()) await new Promise((r) => setTimeout(r, 5));
  }
  const paint = performance.getEntriesByName('first-contentful-paint')[0];
  // marked by the page: first by boot.js's preview (before Python runs), again by Python's own pass
  const prediction = performance.getEntriesByName('vitlens:prediction-shown')[0];
  const marks = Object.fromEntries(performance.getEntriesByType('mark')
    .filter((m) => !m.name.startsWith('vitlens:classified') && m.name !== 'vitlens:prediction-shown')
    .map((m) => [m.name.slice(8), m.startTime]));
  marks['python-prediction'] = performance.getEntriesByName('vitlens:classified:1')[0].startTime;
  return {first_paint_ms: paint ? paint.startTime : null, prediction_ms: prediction.startTime,
          views_ready_ms: performance.now(), marks_ms: marks};
}
"""

LATENCY = """
async (n) => {
  const canvas = document.getElementById('interp-canvas');
  const drawn = (check) => new Promise((resolve) => {
    if (check()) return resolve();
    const observer = new MutationObserver(() => { if (check()) { observer.disconnect(); resolve(); } });
    observer.observe(canvas, {attributes: true});
  });
  const change = async (field, value, attribute) => {
    const started = performance.now();
    field.value = value;
    field.dispatchEvent(new Event('change'));
    await drawn(() => canvas.dataset[attribute] === value);
    return performance.now() - started;
  };
  const block = document.getElementById('interp-block');
  const token = document.getElementById('interp-token');
  const blocks = [], tokens = [];
  const layers = block.options.length - 1;
  for (let i = 0; i < n; i++) {
    blocks.push(await change(block, String(1 + ((Number(block.value) + i) % layers)), 'block'));
    tokens.push(await change(token, String(1 + ((Number(token.value) + 7) % 250)), 'token'));
  }
  return {blocks, tokens};
}
"""

HOVER = """
(n) => {
  const canvas = document.getElementById('detail-canvas');
  const box = canvas.getBoundingClientRect();
  const times = [];
  for (let i = 0; i < n; i++) {
    const x = box.left + 3 + (i * 37) % Math.max(1, box.width - 6);
    const y = box.top + 3 + (i * 53) % Math.max(1, Math.min(box.height, 600) - 6);
    const started = performance.now();
    canvas.dispatchEvent(new PointerEvent('pointermove', {clientX: x, clientY: y, bubbles: true, pointerType: 'mouse'}));
    times.push(performance.now() - started);  // the handler (JS, then Python) runs synchronously
  }
  return times;
}
"""


# The page's memory by where it lives (the page itself, onnxruntime-web's inference worker and its
# threads), JavaScript and WebAssembly together, as the browser itself reports it.
UA_MEMORY = """
async () => {
  if (!performance.measureUserAgentSpecificMemory) return null;
  const result = await performance.measureUserAgentSpecificMemory();
  const scopes = {};
  for (const entry of result.breakdown) {
    for (const a of entry.attribution.length ? entry.attribution : [{scope: 'shared'}]) {
      scopes[a.scope] = (scopes[a.scope] || 0) + entry.bytes / 2 ** 20 / Math.max(1, entry.attribution.length);
    }
  }
  scopes.total = result.bytes / 2 ** 20;
  return scopes;
}
"""


def summary(times: list[float]) -> dict:
    ordered = sorted(times)
    return {"n": len(ordered), "p50_ms": statistics.median(ordered),
            "p95_ms": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], "max_ms": ordered[-1]}


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class SentBytes:
    """Bytes the bench's server writes (headers and bodies): what a load transferred, including the
    service worker's requests, which the page's own network events do not show."""

    def __init__(self):
        self.total = 0
        self.lock = threading.Lock()

    def handler(self, base):
        counter = self

        class Counted(base):
            def setup(self):
                super().setup()
                self.wfile = Writer(self.wfile, counter)
        return Counted


class Writer:
    def __init__(self, stream, counter: SentBytes):
        self.stream, self.counter = stream, counter

    def write(self, data):
        with self.counter.lock:
            self.counter.total += len(data)
        return self.stream.write(data)

    def __getattr__(self, name):
        return getattr(self.stream, name)


class PageBench:
    def __init__(self, site: Path):
        self.site = site
        index = json.loads((site / "model" / "index.json").read_text())
        self.default_model = index["default"]

    def __enter__(self):
        from playwright.sync_api import sync_playwright
        self.server = make_server(self.site, port=0, quiet=True)
        self.sent = SentBytes()
        self.server.RequestHandlerClass = self.sent.handler(self.server.RequestHandlerClass)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.playwright = sync_playwright().start()
        self.browser = self.playwright.chromium.launch(executable_path=CHROMIUM,
                                                       args=[*FLAGS, "--enable-precise-memory-info"])
        self.version = f"Chromium {self.browser.version}"
        return self

    def __exit__(self, *exc):
        self.browser.close()
        self.playwright.stop()
        self.server.shutdown()

    def open(self, fragment: str, settled: bool = True):
        """A new page at `fragment`, once ready and (`settled`) once the first visit's offline copy is
        kept: web/sw.js downloads it after the first prediction, and on two cores that download
        competes with whatever is measured next."""
        context = self.browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(PROBES)
        page = context.new_page()
        page.goto(self.url + fragment)
        page.wait_for_function(READY, timeout=300_000)
        if settled:
            page.wait_for_function("document.body.dataset.offline === 'ready'", timeout=300_000)
        return context, page

    def forward(self, model: str, runs: int, first_pass: bool = False) -> dict:
        """The chain of parts fetching every output, run part by part from the page, or (`first_pass`)
        the page's own pass: what it keeps, in one run of the chain."""
        manifest = json.loads((self.site / "model" / model / "manifest.json").read_text())
        sample = manifest["samples"][0]["id"]
        context, page = self.open(f"#model={model}&image={sample}")
        wanted = [stage["first_pass"] for stage in manifest["stages"]] if first_pass else None
        result = page.evaluate(FORWARD, {
            "base": f"model/{model}", "stages": manifest["stages"], "heads": manifest["num_heads"], "wanted": wanted,
            "runs": runs, "warmup": 2})
        context.close()
        return {"median_ms": statistics.median(result["times"]), "threads": result["threads"]}

    def relevance(self, model: str, runs: int) -> dict:
        """One class's relevance in the page (RELEVANCE), median over `runs` classes in turn."""
        manifest = json.loads((self.site / "model" / model / "manifest.json").read_text())
        spec = manifest["relevance"]
        context, page = self.open(f"#model={model}&image={manifest['samples'][0]['id']}")
        times = page.evaluate(RELEVANCE, {"base": f"model/{model}", "file": spec["file"], "inputs": spec["inputs"],
                                          "outputs": [names.RELEVANCE, names.RELEVANCE_BLOCKS],
                                          "classes": len(manifest["labels"]), "blocks": manifest["num_layers"],
                                          "heads": manifest["num_heads"], "runs": runs, "warmup": 2})
        context.close()
        return {"median_ms": statistics.median(times)}

    def edited(self, model: str, edits: list[dict], runs: int) -> list[float]:
        """The median ms of each what-if run in `edits` (see EDITED), in the page."""
        manifest = json.loads((self.site / "model" / model / "manifest.json").read_text())
        context, page = self.open(f"#model={model}&image={manifest['samples'][0]['id']}")
        page.wait_for_function("document.body.dataset.classified", timeout=300_000)
        times = page.evaluate(EDITED, {"base": f"model/{model}", "stages": manifest["stages"],
                                       "heads": manifest["num_heads"], "edits": edits, "runs": runs, "warmup": 2})
        context.close()
        return [statistics.median(t) for t in times]

    def plain_forward(self, model: str, image_size: list[int], runs: int) -> dict:
        """The plain model (a file under the site) in onnxruntime-web, as the page configures it (bench/bare/plain.js)."""
        context = self.browser.new_context()
        page = context.new_page()
        height, width = image_size
        page.goto(self.url + f"plain.html?model={model}&size={height}x{width}&runs={runs}&warmup=2")
        page.wait_for_function("window.plainResult", timeout=300_000)
        result = page.evaluate("window.plainResult")
        context.close()
        return {"median_ms": statistics.median(result["times"]), "threads": result["threads"],
                "create_ms": result["create_ms"]}

    def persistent(self, profile: str):
        context = self.playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=FLAGS, viewport={"width": 1280, "height": 900})
        context.add_init_script(PROBES)
        return context

    def bare(self, context) -> float:
        """A bare Pyodide boot from the site's own files (bench/bare): ms from navigation to Python ready."""
        page = context.new_page()
        page.goto(self.url + "bare.html")
        page.wait_for_function("window.bareBoot", timeout=300_000)
        elapsed = page.evaluate("window.bareBoot")
        page.close()
        return elapsed

    def starts(self, warm_loads: int) -> tuple[dict, dict]:
        """Cold (a new profile: empty cache), then warm (the same profile, new tabs, its caches), each
        beside a bare Pyodide boot in the same browser: the views are interactive when the first image
        is classified by Python (body data-status="ready"); `ratio` is that over the bare boot.

        A start varies by a few hundred ms from one load to the next on two busy cores, so the warm
        figures are medians of `warm_loads` loads, the page and the bare boot taking turns (each load's
        numbers are kept too); the trace is the marks of the median load.
        """
        with tempfile.TemporaryDirectory() as profile:
            context = self.persistent(profile)
            bare_cold = self.bare(context)
            context.close()
        loads, bares, sizes = [], [], []
        with tempfile.TemporaryDirectory() as profile:
            context = self.persistent(profile)
            for i in range(1 + warm_loads):
                page = context.new_page()
                sent = self.sent.total
                page.goto(self.url + "#image=chelsea")
                page.wait_for_function("performance.getEntriesByName('vitlens:prediction-shown').length", timeout=300_000)
                sizes.append(self.sent.total - sent)
                page.wait_for_function(READY, timeout=300_000)
                load = page.evaluate(VIEWS)
                load["interactive_ms"] = load["marks_ms"]["python-prediction"]
                load["python"] = page.evaluate("document.body.dataset.python")
                loads.append(load)
                page.close()
                if i:
                    bares.append(self.bare(context))
            context.close()
        keys = ("first_paint_ms", "prediction_ms", "interactive_ms", "views_ready_ms")
        warm = sorted(loads[1:], key=lambda load: load["interactive_ms"])[len(loads[1:]) // 2]
        warm = {**warm, **{key: statistics.median(load[key] for load in loads[1:]) for key in keys},
                "loads": [{key: load[key] for key in keys} for load in loads[1:]],
                "bare_boot_ms": statistics.median(bares), "bare_loads": bares}
        warm["ratio"] = warm["interactive_ms"] / warm["bare_boot_ms"]
        cold = {**loads[0], "bare_boot_ms": bare_cold, "ratio": loads[0]["interactive_ms"] / bare_cold}
        return {"cold": cold, "warm": warm}, {"cold": sizes[0], "warm": max(sizes[1:])}

    def latency(self, changes: int) -> dict:
        """Interpretation's block and token changes and Model detail's hover, p50/p95 (see LATENCY, HOVER)."""
        context, page = self.open("#image=chelsea&view=interpretation")
        page.wait_for_selector("#interp-canvas[data-kind]")
        interp = page.evaluate(LATENCY, changes)
        page.click("[data-view-tab=detail]")
        page.wait_for_selector("#detail-canvas[data-tensor]")
        hover = page.evaluate(HOVER, changes)
        context.close()
        return {"interpretation: change block": summary(interp["blocks"]),
                "interpretation: change token": summary(interp["tokens"]),
                "model detail: hover": summary(hover)}

    def latency_during(self, job: str, changes: int) -> dict:
        """The same Interpretation changes while a What-if job computes: `job` is "curves" (the
        faithfulness curves) or "atlas" (the head ablation). Their runs are in the inference worker,
        as background runs; the page only awaits them."""
        context, page = self.open("#image=chelsea&view=whatif")
        page.wait_for_function("document.body.dataset.classified", timeout=300_000)
        if job == "atlas":
            page.select_option("#atlas-measure", "ablation")
        page.click(f"#{job}-run")
        running = f"!document.getElementById('{job}-progress').hidden && document.getElementById('{job}-progress').value > 0"
        page.wait_for_function(running, timeout=300_000)
        page.click("[data-view-tab=interpretation]")
        page.wait_for_selector("#interp-canvas[data-kind]")
        interp = page.evaluate(LATENCY, changes)
        still = page.evaluate(f"!document.getElementById('{job}-progress').hidden")
        context.close()
        if not still:
            raise RuntimeError(f"the {job} job ended before the interactions did: measure with fewer --changes")
        return {f"interpretation while {job} compute: change block": summary(interp["blocks"]),
                f"interpretation while {job} compute: change token": summary(interp["tokens"])}

    def memory(self, model: str) -> dict:
        """Peak memory after every block of `model` was drawn in Model detail and Interpretation."""
        manifest = json.loads((self.site / "model" / model / "manifest.json").read_text())
        context, page = self.open(f"#model={model}&image={manifest['samples'][0]['id']}&view=detail")
        page.wait_for_selector("#detail-canvas[data-tensor]")
        for block in range(1, manifest["num_layers"] + 1):
            page.select_option("#detail-block", str(block))
            page.wait_for_function(f"document.getElementById('detail-canvas').dataset.tensor === 'layer.{block - 1}.output'")
        page.click("[data-view-tab=interpretation]")
        page.wait_for_selector("#interp-canvas[data-kind]")
        for kind in ("similarity", "attention", "rollout", "lens", "norms"):
            page.select_option("#interp-kind", kind)
            page.wait_for_function(f"document.getElementById('interp-canvas').dataset.kind === '{kind}'")
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        wasm = page.evaluate("window.__bench.memories.reduce((sum, m) => sum + m.buffer.byteLength, 0)")
        by_scope = page.evaluate(UA_MEMORY)
        processes = self.browser.new_browser_cdp_session().send("SystemInfo.getProcessInfo")["processInfo"]
        renderers = [p["id"] for p in processes if p["type"] == "renderer"]
        result = {"renderer_peak_rss_mb": max(peak_rss_mb(pid) for pid in renderers),
                  "js_heap_mb": metrics.get("JSHeapUsedSize", 0) / 2**20, "main_thread_wasm_mb": wasm / 2**20,
                  "by_scope_mb": by_scope, "model": model}
        context.close()
        return result
