"""The model in the browser: its ONNX parts as onnxruntime-web sessions, run as a chain.

Outputs stay JavaScript tensors; Python reads the few numbers it needs (logits) and leaves big
tensors in their typed arrays until a view asks for them.
"""
import json

import js
from pyodide.ffi import to_js

import edits
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
    wanted.update({s.file: ([s.input] + ([s.head_mask] if s.head_mask else []), list(s.outputs))
                   for s in manifest.stages})
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
        self.kept = {}  # tensor name -> JS tensor of the current run, at the full token count (what views read)
        self.computed = {}  # the same as computed: fewer tokens when patches were removed (what graphs read)
        self.edit = None  # the current run's what-if edit (edits.Edit), None for the image as it is
        self.tokens = None  # the tokens its blocks read, when patches were removed
        self.removed = frozenset()  # the patches it left out
        self.unedited, self.unedited_image = {}, None  # the last unedited run's tensors, and of which image
        self.details = {}  # block index -> every output of that block, computed on demand
        self.parameters = None  # parameters.bin as float32, fetched when a view first needs it
        self.analysis_session = None  # analysis.onnx, loaded when the Interpretation view first needs it
        self.analysed = None  # its outputs for the current image
        self.relevance_session = None  # relevance.onnx, loaded when a relevance map is first asked for
        self.relevances = {}  # target over the logits -> its relevance maps, for the current image
        self.step_specs = {}  # probabilities_of's feeds and stages, for the unedited run and the heads knocked out
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

    async def forward(self, image, edit=None, sample=None):
        """Decoded RGBA image -> the head's probabilities: preprocess.onnx (with the manifest's recipe)
        and the chain of parts, in one run of the inference worker, keeping each part's `first_pass`
        outputs (the manifest's; boot.js's preview keeps the same).

        A what-if run (`edit`, an edits.Edit): replaced patches are painted into the image's pixels
        first (`sample`: the decoded sample image a "sample:<id>" fill takes its patches from); removed
        patches' tokens are left out of block 1's input; knocked-out heads get a head mask of 0. An edit
        without replaced pixels starts from the unedited run's embeddings output, if that was of this
        image. The previous run's tensors are replaced only once the whole chain has run.
        """
        m = self.manifest
        stages, preprocess = list(m.stages), self.preprocess_session
        reuse = bool(edit) and not edit.replaced and self.unedited_image is image
        if reuse:
            stages, preprocess = stages[1:], None
            feeds = js_object({names.EMBEDDINGS_OUTPUT: self.unedited[names.EMBEDDINGS_OUTPUT]})
        else:
            if edit and edit.replaced:
                image = self.replaced(image, edit, sample)
            sizes = geometry.graph_inputs(m.preprocessing, image.width, image.height)
            feeds = JS.preprocessFeeds(image, plain(m.preprocessing), plain(sizes))
        tokens = edit.kept_tokens(len(m.special_tokens), m.num_patches) if edit and edit.removed else None
        specs = []
        for s in stages:
            spec = {"session": self.sessions[s.name], "input": s.input, "wanted": to_js(s.first_pass),
                    "last": s.outputs[-1]}
            if tokens is not None and s.input == names.EMBEDDINGS_OUTPUT:
                spec["gather"] = to_js(tokens)
            spec["extra"] = self.head_mask_feeds(s, edit)
            specs.append(js_object(spec))
        kept = (await JS.chain(preprocess, feeds, to_js(specs))).kept
        computed = {name: js.Reflect.get(kept, name) for name in js.Object.keys(kept)}
        if reuse:  # the embeddings' own tensors are the unedited run's
            computed = {**{n: t for n, t in self.unedited.items() if n not in computed}, **computed}
        return self.keep(computed, edit, image)

    def replaced(self, image, edit, sample):
        """The image with the edit's patches painted over (web/js/edits.js), as the pass's input."""
        m = self.manifest

        def boxes(width, height):
            return to_js([list(geometry.patch_box(m.preprocessing, width, height, m.patch_size, m.grid[1], p))
                          for p in edit.replaced])
        fill = edit.fill.split(":")[0]
        sample_boxes = boxes(sample.width, sample.height) if fill == "sample" else None
        return JS.edits.replacePatches(image, boxes(image.width, image.height), fill, sample, sample_boxes)

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
        return self.keep({name: js.Reflect.get(handed.kept, name) for name in expected}, None, image)

    def keep(self, computed, edit, image):
        """A run's tensors become the current ones. The views read `kept`, at the full token count; a run
        with removed patches computed fewer tokens (`computed`, which its graphs read), spread back here
        with the removed tokens at 0."""
        m = self.manifest
        if not edit:
            self.unedited, self.unedited_image = computed, image
        self.edit = edit or None
        self.tokens = edit.kept_tokens(len(m.special_tokens), m.num_patches) if edit and edit.removed else None
        self.removed = frozenset(edit.removed) if edit else frozenset()
        self.computed = computed
        self.kept = {name: self.spread(name, t) for name, t in computed.items()} if self.tokens else computed
        self.details, self.analysed, self.values_of, self.relevances = {}, None, {}, {}
        JS.current = js_object(self.kept)  # readable by tests and benchmarks
        return list(self.floats(names.PROBABILITIES))  # the head's own softmax

    def spread(self, name, tensor):
        """A tensor of the current run at the full token count (unchanged unless patches were removed)."""
        axes = edits.token_axes(name, len(tensor.dims)) if self.tokens else ()
        return JS.edits.spreadTokens(tensor, to_js(axes), to_js(self.tokens), self.manifest.tokens) if axes else tensor

    def head_mask_feeds(self, stage, edit):
        """A part's head mask feed (JS object; none but a block's): `edit`'s knocked-out heads, or every head."""
        m, block = self.manifest, names.block_of(stage.name)
        row = edit.head_mask(m.num_layers, m.num_heads)[block] if edit and edit.knocked and block is not None else None
        return JS.edits.headMask(plain({"name": stage.name, "head_mask": stage.head_mask}), m.num_heads,
                                 None if row is None else to_js(row))

    async def probabilities_of(self, edit):
        """The class probabilities of the image as it is under `edit` (patches removed, heads knocked out:
        a step of a faithfulness curve, a head's ablation): the chain from the unedited run's embeddings
        output, in the worker, each part asked for its last output alone, as a background run (each part
        waits until the user is not interacting). The tensors on screen stay."""
        m = self.manifest
        key = (id(self.unedited), edit.knocked)  # a curve's steps differ only in the tokens: built once
        if key not in self.step_specs:
            specs = to_js([js_object({"session": self.sessions[s.name], "input": s.input, "last": s.outputs[-1],
                                      "wanted": to_js([s.outputs[-1]]),  # the head's: its probabilities
                                      "extra": self.head_mask_feeds(s, edit)}) for s in m.stages[1:]])
            self.step_specs = {key: (js_object({names.EMBEDDINGS_OUTPUT: self.unedited[names.EMBEDDINGS_OUTPUT]}), specs)}
        feeds, specs = self.step_specs[key]
        if edit.removed:
            specs[0].gather = to_js(edit.kept_tokens(len(m.special_tokens), m.num_patches))
        else:
            js.Reflect.deleteProperty(specs[0], "gather")
        kept = (await JS.chain(None, feeds, specs, True)).kept
        return list(tensors.as_floats(js.Reflect.get(kept, names.PROBABILITIES).data.to_memoryview()))

    async def block(self, index):
        """Every exposed tensor of one block, by re-running just that part."""
        if index not in self.details:
            stage = self.manifest.stages[index + 1]
            feeds = js.Object.assign(js_object({stage.input: self.computed[stage.input]}),
                                     self.head_mask_feeds(stage, self.edit))
            out = await self.sessions[stage.name].run(feeds)
            self.details[index] = {key: self.spread(key, js.Reflect.get(out, key)) for key in stage.outputs}
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
            feeds = {name: self.computed[name] for name in spec.inputs if name != names.PATCHES_READ}
            read = [p for p in range(self.manifest.num_patches) if p not in self.removed]
            feeds[names.PATCHES_READ] = JS.tensor("int64", to_js(read), to_js([len(read)]))
            out = await self.analysis_session.run(js_object(feeds))
            self.analysed = {name: self.spread(name, js.Reflect.get(out, name)) for name in spec.outputs}
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
            feeds = {names.EMBEDDINGS_OUTPUT: self.computed[names.EMBEDDINGS_OUTPUT],
                     names.TARGET: JS.tensor("float32", to_js(list(target)), to_js([1, len(target)]))}
            m = self.manifest
            mask = (self.edit or edits.Edit()).head_mask(m.num_layers, m.num_heads)
            feeds[names.HEAD_MASKS] = JS.tensor("float32", to_js([x for row in mask for x in row]),
                                                to_js([m.num_layers, m.num_heads]))
            wanted = [names.RELEVANCE, names.RELEVANCE_BLOCKS]
            out = await self.relevance_session.run(js_object(feeds), to_js(wanted))
            self.relevances[key] = {name: tensors.as_floats(self.spread(name, js.Reflect.get(out, name)).data.to_memoryview())
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
