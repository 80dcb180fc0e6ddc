"""The Knowledge Background Graph (EL-VIT V-B): the model's source classes and concepts.

Browser-only. The export step wrote knowledge.json; web/js/knowledge/ lays it out and draws it.
"""
import js

from page import element, read_json
from runtime import plain
from view import View

JS = js.vitlensJS


class GraphView(View):
    name = "graph"

    def __init__(self, page):
        super().__init__(page)
        self.drawn_for = None  # the model (runtime.ModelRuntime) whose graph is drawn

    async def show(self):
        """Drawn the first time its view is shown, when the panel has its real size."""
        runtime = self.page.runtime
        manifest = runtime.manifest
        if self.drawn_for is runtime:
            return
        self.drawn_for = runtime
        status = element("kg-status")
        try:
            graph = await read_json(await runtime.response(manifest.knowledge), manifest.knowledge)
        except Exception as error:
            status.textContent = f"This model folder has no knowledge graph: {error}"
            return
        handle = JS.renderKnowledgeGraph(element("knowledge-graph"), plain(graph))
        await handle.settled
        status.textContent = f"{graph['architecture']}, read from transformers {graph['transformers_version']}"
        element("knowledge-graph").dataset.ready = "true"
