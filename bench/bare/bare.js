// A bare Pyodide boot (see bare.html): window.bareBoot is the time from navigation to Python ready.
import { loadPyodide } from "./vendor/pyodide/pyodide.mjs";

const pyodide = await loadPyodide({ indexURL: new URL("./vendor/pyodide/", location.href).href });
await pyodide.runPythonAsync("import json, math, asyncio");
window.bareBoot = performance.now();
