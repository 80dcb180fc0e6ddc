"""Benchmarks: python -m bench [--runs 15] [--out build/bench/results.json]

Measures in one run on this machine, and writes a JSON file plus a table (issue #8):
1. the forward pass with every exposed tensor: onnxruntime-web in headless Chromium versus native
   onnxruntime in CPython, same ONNX parts, same thread count, median after warm-up, as a ratio;
   for the default model and for a ViT-B/16-sized model (random weights, exported like any other);
   native also without thread spinning (each part's session has its own pool, whose spinning threads
   compete with the next part's; onnxruntime-web has one pool); and the page's own pass (what it
   keeps of each part) versus the plain optimum export of the same checkpoint run natively with
   onnxruntime's fusions (bench/plain.py), and that plain export in the page's onnxruntime-web
   (bench/bare/plain.html): the floor of any pass in WebAssembly;
2. cold start: navigation to first contentful paint, to the prediction shown, to the views interactive
   (Python's first classification) and to all four views drawn, with an empty cache and with a warm
   one, each beside a bare Pyodide boot from the same files (bench/bare), as a ratio, with the trace
   of the start (the page's performance marks);
3. interaction latency in the page: changing block or token in the Interpretation view and
   hovering in Model detail, p50/p95 over 100 changes; the same changes while the What-if view's
   faithfulness curves compute, and while its head atlas measures ablation;
   what-if runs (issue #42): a re-run with heads knocked out or patches removed, and a 16-step
   deletion curve, against the page's forward pass;
4. bytes transferred before the first prediction;
5. peak memory of the tab (JS heap, WebAssembly memory, the renderer process) after exploring
   every block of the ViT-B/16-sized model.
Benchmarks, not tests: nothing here passes or fails on a number.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from export.default_model import CHECKPOINT
from export.fidelity import part_feeds
from export.shared import edits

from . import chromium
from .page import PageBench
from .plain import plain_forward, plain_model
from vit_lens.site import link_or_copy

from .site import ROOT, VIT_B16, build_site

THREADS = 2


def native_forward(folder: Path, runs: int, warmup: int = 2, spinning: bool = True) -> dict:
    """Native onnxruntime, the page's chain of parts with every output, `THREADS` threads.

    Every session has its own thread pool, whose threads spin for a while after a run (onnxruntime's
    default) and so compete with the next part's; `spinning=False` measures the chain without that.
    onnxruntime-web has one pool for all sessions."""
    manifest = json.loads((folder / "manifest.json").read_text())
    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    sessions = [(stage, ort.InferenceSession(str(folder / stage["file"]), options,
                                             providers=["CPUExecutionProvider"])) for stage in manifest["stages"]]
    height, width = manifest["image_size"]
    pixel_values = np.random.default_rng(0).standard_normal((1, 3, height, width)).astype(np.float32)
    times = []
    for i in range(warmup + runs):
        started = time.perf_counter()
        value = pixel_values
        for stage, session in sessions:
            outputs = session.run(None, part_feeds(stage, value, manifest["num_heads"]))
            value = outputs[[o.name for o in session.get_outputs()].index(stage["outputs"][-1])]
        if i >= warmup:
            times.append((time.perf_counter() - started) * 1000)
    return {"median_ms": statistics.median(times), "runs": runs, "threads": THREADS}


def whatif(page, manifest, first_pass_ms: float, runs: int) -> dict:
    """What-if runs in the page against its first pass: a re-run with two heads knocked out, with a
    quarter and with half of the patches removed, and a 16-step deletion curve (its steps' sum)."""
    special, patches, layers, heads = (len(manifest["special_tokens"]), manifest["num_patches"],
                                       manifest["num_layers"], manifest["num_heads"])
    knock = edits.Edit(knocked=((1, 1), (layers, heads))).head_mask(layers, heads)
    quarter, half = (edits.Edit(removed=tuple(range(n))).kept_tokens(special, patches) for n in (patches // 4, patches // 2))
    counts = edits.removed_counts(patches, not manifest["head_reads_patches"])[1:]  # the first step is the unedited run
    curve = [{"keep": edits.Edit(removed=tuple(range(c))).kept_tokens(special, patches), "knock": None, "wanted": "last"}
             for c in counts]
    times = page.edited(page.default_model, [{"keep": None, "knock": knock, "wanted": "first"},
                                             {"keep": quarter, "knock": None, "wanted": "first"},
                                             {"keep": half, "knock": None, "wanted": "first"}, *curve], runs)
    knocked, fewer, fewest, steps = times[0], times[1], times[2], times[3:]
    return {"model": page.default_model, "web_first_pass_ms": first_pass_ms, "knock_out_ms": knocked,
            "quarter_removed_ms": fewer, "half_removed_ms": fewest, "deletion_curve_ms": sum(steps),
            "knock_out_ratio": knocked / first_pass_ms, "quarter_removed_ratio": fewer / first_pass_ms,
            "half_removed_ratio": fewest / first_pass_ms, "deletion_curve_passes": sum(steps) / first_pass_ms,
            "curve_steps": len(steps), "runs": runs}


def percentile(values, q):
    return float(np.percentile(values, q))


def table(results: dict) -> str:
    rows = ["| measure | value |", "|---|---|"]
    for model, f in results["forward"].items():
        rows.append(f"| forward pass, {model}: onnxruntime-web / native ({f['threads']} threads) | "
                    f"{f['web_median_ms']:.0f} ms / {f['native_median_ms']:.0f} ms = **{f['ratio']:.2f}x** |")
        rows.append(f"| the same, native without thread spinning | {f['web_median_ms']:.0f} ms / "
                    f"{f['native_no_spinning_ms']:.0f} ms = {f['web_median_ms'] / f['native_no_spinning_ms']:.2f}x |")
    p = results["forward_vs_plain"]
    rows.append(f"| forward pass, {p['model']}: the page's pass / the plain optimum export natively, fused "
                f"({p['threads']} threads) | {p['web_first_pass_ms']:.0f} ms / {p['plain_native_ms']:.0f} ms = "
                f"**{p['ratio']:.2f}x** |")
    rows.append(f"| the plain optimum export in onnxruntime-web / natively (the floor of any page pass in "
                f"WebAssembly) | {p['plain_web_ms']:.0f} ms / {p['plain_native_ms']:.0f} ms = "
                f"**{p['plain_web_ratio']:.2f}x** |")
    if "relevance" in results:
        r = results["relevance"]
        rows.append(f"| class relevance for one class, {r['model']}, in the page (relevance.onnx, target 2.5x) / "
                    f"the page's forward pass | {r['web_relevance_ms']:.0f} ms / {r['web_first_pass_ms']:.0f} ms = "
                    f"**{r['ratio']:.2f}x** |")
    if "whatif" in results:
        w = results["whatif"]
        rows.append(f"| what-if re-run, {w['model']}, / the page's forward pass (target at most 1.0x): two heads "
                    f"knocked out / a quarter / half of the patches removed | {w['knock_out_ms']:.0f} / "
                    f"{w['quarter_removed_ms']:.0f} / {w['half_removed_ms']:.0f} ms / {w['web_first_pass_ms']:.0f} ms = "
                    f"**{w['knock_out_ratio']:.2f}x / {w['quarter_removed_ratio']:.2f}x / "
                    f"{w['half_removed_ratio']:.2f}x** |")
        rows.append(f"| a {w['curve_steps'] + 1}-step deletion curve ({w['curve_steps']} runs) in forward passes "
                    f"(target at most 12) | {w['deletion_curve_ms']:.0f} ms = **{w['deletion_curve_passes']:.1f}** |")
    for cache in ("cold", "warm"):
        s = results["start"][cache]
        what = f"warm start (median of {len(s['loads'])})" if "loads" in s else f"{cache} start"
        rows.append(f"| {what}: first paint / prediction shown / views interactive / all four views drawn | "
                    f"{s['first_paint_ms']:.0f} / **{s['prediction_ms']:.0f}** / {s['interactive_ms']:.0f} / "
                    f"{s['views_ready_ms']:.0f} ms |")
        rows.append(f"| {what}: views interactive / a bare Pyodide boot in the same browser (Python from its "
                    f"{s['python']}) | {s['interactive_ms']:.0f} ms / {s['bare_boot_ms']:.0f} ms = **{s['ratio']:.2f}x** |")
    for name, lat in results["latency"].items():
        rows.append(f"| latency, {name} (n={lat['n']}): p50 / p95 | {lat['p50_ms']:.1f} / **{lat['p95_ms']:.1f}** ms |")
    b = results["bytes_before_prediction"]
    rows.append(f"| bytes before the first prediction (cold / warm) | {b['cold'] / 1e6:.1f} MB / {b['warm'] / 1e6:.1f} MB |")
    for model, m in results["memory"].items():
        scopes = m["by_scope_mb"] or {}
        worker = sum(v for k, v in scopes.items() if "Worker" in k)
        rows.append(f"| peak memory, {model}, every block explored: renderer process peak RSS / "
                    f"page JS heap / page WebAssembly (Pyodide) / inference worker (JS and WebAssembly) | "
                    f"**{m['renderer_peak_rss_mb']:.0f} MB** / {m['js_heap_mb']:.0f} MB / "
                    f"{m['main_thread_wasm_mb']:.0f} MB / {worker:.0f} MB |")
    for model, w in results["weights"].items():
        if w.get("dtype") == "float16":
            rows.append(f"| float16 weight storage, {model}: largest change of an exposed tensor "
                        f"({w['worst_tensor']}), relative to its range | {w['max_relative_diff_vs_float32']:.1e} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--warm-loads", type=int, default=5, help="warm starts measured (their median is reported)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "results.json")
    args = parser.parse_args(argv)
    problem = chromium.missing()
    if problem:
        print(f"python -m bench cannot run: {problem}.", file=sys.stderr)
        return 2
    site = build_site()
    results = {"machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
                           "cores": os.cpu_count(), "onnxruntime": ort.__version__},
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def save():  # after every measure, so an interrupted run keeps what it measured
        args.out.write_text(json.dumps(results, indent=1))

    results["weights"] = {m.parent.name: json.loads(m.read_text())["weights"]
                          for m in sorted((site / "model").glob("*/manifest.json"))}
    with PageBench(site) as page:
        results["browser"] = page.version
        results["forward"] = {}
        for name in (page.default_model, VIT_B16):
            web = page.forward(name, args.runs)
            native = native_forward(site / "model" / name, args.runs)
            quiet = native_forward(site / "model" / name, args.runs, spinning=False)
            results["forward"][name] = {"web_median_ms": web["median_ms"], "native_median_ms": native["median_ms"],
                                        "native_no_spinning_ms": quiet["median_ms"],
                                        "ratio": web["median_ms"] / native["median_ms"], "threads": web["threads"],
                                        "runs": args.runs}
            save()
        manifest = json.loads((site / "model" / page.default_model / "manifest.json").read_text())
        first_pass = page.forward(page.default_model, args.runs, first_pass=True)
        plain_file = plain_model(CHECKPOINT)
        plain = plain_forward(plain_file, manifest["image_size"], THREADS, args.runs)
        link_or_copy(plain_file, site / "plain.onnx")
        plain_web = page.plain_forward("plain.onnx", manifest["image_size"], args.runs)
        results["forward_vs_plain"] = {"model": page.default_model, "web_first_pass_ms": first_pass["median_ms"],
                                       "plain_native_ms": plain["median_ms"], "plain_web_ms": plain_web["median_ms"],
                                       "ratio": first_pass["median_ms"] / plain["median_ms"],
                                       "plain_web_ratio": plain_web["median_ms"] / plain["median_ms"],
                                       "threads": THREADS, "runs": args.runs}
        save()
        one_class = page.relevance(page.default_model, args.runs)
        results["relevance"] = {"model": page.default_model, "web_relevance_ms": one_class["median_ms"],
                                "web_first_pass_ms": first_pass["median_ms"],
                                "ratio": one_class["median_ms"] / first_pass["median_ms"], "runs": args.runs}
        save()
        results["whatif"] = whatif(page, manifest, first_pass["median_ms"], args.runs)
        save()
        results["start"], results["bytes_before_prediction"] = page.starts(args.warm_loads)
        save()
        results["latency"] = page.latency(args.changes)
        for job in ("curves", "atlas"):
            results["latency"].update(page.latency_during(job, args.changes))
        save()
        results["memory"] = {}
        for name in (page.default_model, VIT_B16):  # what a phone must hold: the default, and a ViT-B/16
            results["memory"][name] = page.memory(name)
            save()
    print(table(results))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
