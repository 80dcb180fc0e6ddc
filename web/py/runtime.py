"""The model in the browser: its ONNX parts as onnxruntime-web sessions, run as a chain.

Outputs stay JavaScript tensors; Python reads the few numbers it needs (logits) and leaves big
tensors in their typed arrays until a view asks for them.
"""
import json

import js
from pyodide.ffi import to_js

import geometry
import tensors
import tensor_names as names

JS = js.vitlensJS
MAX_SIDE = 4096  # larger photos are first reduced by the browser: canvas memory limits


def js_object(mapping):
    return js.Object.fromEntries(to_js([[k, v] for k, v in mapping.items()]))


def plain(value):
    """A JSON-able Python value as a plain JavaScript object (no proxies to free)."""
    return js.JSON.parse(json.dumps(value))


class ModelError(Exception):
    """A model folder that cannot be used as it is; the message names the file and what is wrong."""


def js_message(error):
    """A JavaScript error's own message, without Pyodide's traceback."""
    message = getattr(error, "message", None) or str(error)
    return message.strip().splitlines()[0] if message.strip() else type(error).__name__


def check_names(manifest, sessions):
    """Every input and output the manifest names must be in its graph: the views rely on them."""
    graph = manifest.preprocessing["graph"]
    wanted = {graph: ([], [names.PIXELS])}
    wanted.update({s.file: ([s.input], list(s.outputs)) for s in manifest.stages})
    for file, (inputs, outputs) in wanted.items():
        session = sessions[file]
        for kind, listed, have in (("input", inputs, set(session.inputNames)),
                                   ("output", outputs, set(session.outputNames))):
            missing = [n for n in listed if n not in have]
            if missing:
                raise ModelError(f"manifest.json does not match {file}: the graph has no {kind} {missing[0]!r} "
                                 f"({len(missing)} of the manifest's {len(listed)} missing); export the model again")


async def release(sessions):
    for session in sessions:
        await session.release()


class ModelRuntime:
    """One exported model: manifest (manifest.Manifest), sessions, and the tensors of the current image."""

    def __init__(self, base, manifest, sessions, preprocess):
        self.base, self.manifest = base, manifest
        self.sessions = sessions  # stage name -> InferenceSession
        self.preprocess_session = preprocess
        self.kept = {}  # tensor name -> JS tensor, for the current image
        self.details = {}  # block index -> every output of that block, computed on demand
        self.parameters = None  # parameters.bin as float32, fetched when a view first needs it
        self.analysis_session = None  # analysis.onnx, loaded when the Interpretation view first needs it
        self.analysed = None  # its outputs for the current image
        self.relevance_session = None  # relevance.onnx, loaded when a relevance map is first asked for
        self.relevances = {}  # target over the logits -> its relevance maps, for the current image
        self.values_of = {}  # tensor name -> float32 memoryview, copied out of JavaScript once per image

    @classmethod
    async def load(cls, base, manifest, progress):
        """The sessions of every part: preloaded by boot.js, or downloaded and created here.

        Raises ModelError, naming the file, if a part is missing, damaged or not what the manifest
        says it is; nothing of it is left behind.
        """
        stages = manifest.stages
        files = [manifest.preprocessing["graph"]] + [s.file for s in stages]
        preloaded = await JS.takeModel(base)  # boot.js starts the first model while Python starts
        if preloaded:
            sessions = {file: js.Reflect.get(preloaded, file) for file in files}
        else:
            sessions = await cls.create_sessions(base, manifest, files, progress)
        try:
            check_names(manifest, sessions)
        except ModelError:
            await release(sessions.values())
            raise
        preprocess = sessions.pop(files[0])
        return cls(base, manifest, {s.name: sessions[s.file] for s in stages}, preprocess)

    @staticmethod
    async def create_sessions(base, manifest, files, progress):
        """Download every part (progress in bytes), then create the sessions (progress in parts)."""
        total = sum(s.bytes for s in manifest.stages)
        loaded = [0]

        def on_bytes(n):
            loaded[0] += n
            progress(0.8 * loaded[0] / max(total, 1), f"Downloading the model: {loaded[0] / 1e6:.1f} of {total / 1e6:.1f} MB")
        listing = plain({"files": manifest.files})
        buffers = []
        for file in files:
            try:
                buffers.append(await JS.fetchModelFile(base, file, listing, on_bytes))
            except Exception as error:  # fetchModelFile's messages name the file
                raise ModelError(js_message(error)) from None
        sessions = {}
        for i, (file, buffer) in enumerate(zip(files, buffers)):
            progress(0.8 + 0.2 * i / len(files), f"Initialising the model: part {i + 1} of {len(files)}")
            try:
                sessions[file] = await JS.createSession(buffer)
            except Exception as error:
                await release(sessions.values())
                raise ModelError(f"{file} is not a model onnxruntime-web can open: {js_message(error)}") from None
        return sessions

    async def release(self):
        """Free the sessions' WebAssembly memory (the model is being replaced)."""
        await release([self.preprocess_session, *self.sessions.values()]
                      + [s for s in (self.analysis_session, self.relevance_session) if s])

    async def fetch(self, file):
        """One file of the model folder, through the page's cache of model files."""
        return await JS.fetchModelFile(self.base, file, plain({"files": self.manifest.files}),
                                       lambda n: None)

    def url(self, file):
        """A file of the folder for an <img>: under the site, or a blob of a local model's file."""
        return JS.modelURL(self.base, file)

    async def response(self, file):
        """A small file of the folder (a sample, the knowledge graph) as a fetch Response."""
        if JS.localModels.has(self.base):
            return JS.localModels.response(self.base, file)
        return await js.fetch(f"{self.base}/{file}")

    async def forward(self, image):
        """Decoded RGBA image -> the head's probabilities: preprocess.onnx (with the manifest's recipe)
        and the chain of parts, in one run of the inference worker, keeping each part's `first_pass`
        outputs (the manifest's; boot.js's preview keeps the same).

        The previous image's tensors are replaced only once the whole chain has run.
        """
        recipe = self.manifest.preprocessing
        sizes = geometry.graph_inputs(recipe, image.width, image.height)
        stages = [js_object({"session": self.sessions[s.name], "input": s.input, "wanted": to_js(s.first_pass),
                             "last": s.outputs[-1]}) for s in self.manifest.stages]
        kept = (await JS.chain(self.preprocess_session, JS.preprocessFeeds(image, plain(recipe), plain(sizes)),
                               to_js(stages))).kept
        return self.keep({name: js.Reflect.get(kept, name) for name in js.Object.keys(kept)})

    def adopt(self, image, handed):
        """The tensors of boot.js's preview, if it ran this model on this very input; else None.

        The preview ran the same sessions on the same pixels while Python started: its tensors are
        the ones `forward` would compute, so they are kept rather than computed twice.
        """
        expected = {names.PIXELS, *(name for stage in self.manifest.stages for name in stage.first_pass)}
        sizes = geometry.graph_inputs(self.manifest.preprocessing, image.width, image.height)
        if (handed is None or set(js.Object.keys(handed.kept)) != expected
                or sizes != json.loads(js.JSON.stringify(handed.sizes))):
            return None
        return self.keep({name: js.Reflect.get(handed.kept, name) for name in expected})

    def keep(self, kept):
        self.kept, self.details, self.analysed, self.values_of, self.relevances = kept, {}, None, {}, {}
        JS.current = js_object(self.kept)  # readable by tests and benchmarks
        return list(self.floats(names.PROBABILITIES))  # the head's own softmax

    async def block(self, index):
        """Every exposed tensor of one block, by re-running just that part."""
        if index not in self.details:
            stage = self.manifest.stages[index + 1]
            out = await self.sessions[stage.name].run(js_object({stage.input: self.kept[stage.input]}))
            self.details[index] = {key: js.Reflect.get(out, key) for key in stage.outputs}
        return self.details[index]

    async def parameter(self, name):
        """A learned parameter (the manifest's parameters) as a float32 memoryview."""
        spec = self.manifest.parameters
        if spec is None:
            raise RuntimeError("this model folder has no parameters.bin: export it again with python -m export")
        entry = spec.entry(name)
        if entry is None:
            raise RuntimeError(f"this model folder has no parameter {name!r}")
        if self.parameters is None:
            buffer = await self.fetch(spec.file)
            self.parameters = tensors.as_floats(buffer.to_memoryview())
        start = entry.offset // 4
        return self.parameters[start:start + tensors.size(entry.shape)]

    async def analysis(self):
        """analysis.onnx's outputs (similarity, norms, rollout, logit lens) for the current image."""
        if self.analysed is None:
            spec = self.manifest.analysis
            if spec is None:
                raise RuntimeError("this model folder has no analysis.onnx: export it again with python -m export")
            if self.analysis_session is None:
                buffer = await self.fetch(spec.file)
                self.analysis_session = await JS.createSession(buffer)
            feeds = {name: self.kept[name] for name in spec.inputs}
            out = await self.analysis_session.run(js_object(feeds))
            self.analysed = {name: js.Reflect.get(out, name) for name in spec.outputs}
        return self.analysed

    async def relevance(self, target):
        """relevance.onnx's maps for the current image and a target over the logits (a list: one-hot,
        or +1/-1): {RELEVANCE: CLS's row of R, RELEVANCE_BLOCKS: CLS's row of each Ā_l}, float32.

        Only this graph runs (the embeddings' output is kept from the first pass): changing the class
        is one run of it, and a class asked for again is not run again for the same image."""
        spec = self.manifest.relevance
        if spec is None:
            raise RuntimeError("this model folder was exported before class relevance: export it again with "
                               "vit-lens export to see it")
        key = tuple(target)
        if key not in self.relevances:
            if self.relevance_session is None:
                self.relevance_session = await JS.createSession(await self.fetch(spec.file))
            feeds = js_object({names.EMBEDDINGS_OUTPUT: self.kept[names.EMBEDDINGS_OUTPUT],
                               names.TARGET: JS.tensor("float32", to_js(list(target)), to_js([1, len(target)]))})
            wanted = [names.RELEVANCE, names.RELEVANCE_BLOCKS]
            out = await self.relevance_session.run(feeds, to_js(wanted))
            self.relevances[key] = {name: tensors.as_floats(js.Reflect.get(out, name).data.to_memoryview())
                                    for name in wanted}
        return self.relevances[key]

    async def values(self, name):
        """Any exposed tensor of the current image as float32: kept, or from its block's full run."""
        if name in self.kept:
            return self.floats(name)
        return tensors.as_floats((await self.block(names.block_of(name)))[name].data.to_memoryview())

    def floats(self, name):
        """A kept tensor's values (or, after analysis(), one of its outputs) as a float32 memoryview.

        Interactions read the same tensors again and again: each is copied out of JavaScript once.
        """
        if name not in self.values_of:
            tensor = self.kept[name] if name in self.kept else self.analysed[name]
            self.values_of[name] = tensors.as_floats(tensor.data.to_memoryview())
        return self.values_of[name]
