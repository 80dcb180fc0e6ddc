// knowledge-preview.html: fetch one model's knowledge.json and draw it, as the page's graph view will.
// Sets body[data-status] to "ready" or "error", like the main page, so tests know when to look.
import { renderKnowledgeGraph } from "./knowledge.js";

const status = document.getElementById("kg-status");

async function fetchJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

async function main() {
  const name = new URLSearchParams(location.search).get("model") ?? (await fetchJson("model/index.json")).default;
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(name ?? "")) throw new Error(`no such model: ${JSON.stringify(name)}`);
  const graph = await fetchJson(`model/${name}/knowledge.json`);
  const handle = renderKnowledgeGraph(document.getElementById("knowledge-graph"), graph);
  await handle.settled;
  status.textContent = `${graph.architecture}, read from transformers ${graph.transformers_version}`;
  document.body.dataset.status = "ready";
}

main().catch((error) => {
  status.textContent = `Cannot show the knowledge graph: ${error.message}`;
  document.body.dataset.status = "error";
});
