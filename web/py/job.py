"""A long measurement of the What-if view (faithfulness curves, head ablation), one at a time.

Browser-only. Its runs are in the inference worker, as background runs whose parts wait until the
user is not interacting (web/js/inference.js), so the page stays responsive; the loop here only
awaits them. It measures the image as it is (not a what-if run), shows a progress bar and Cancel,
and stops with nothing changed when cancelled or when another image or edit comes on screen.
"""
from page import element


class Job:
    prefix = ""  # its elements: <prefix>-run, <prefix>-cancel, <prefix>-progress, <prefix>-status
    what = ""  # what it measures, for a failure's message

    def __init__(self, page):
        self.page = page
        self.running = False
        self.cancelled = False
        self.measured_for = None  # page.classified when the running measurement started
        self.result = None  # (page.classified it was measured for, what measure() returned)

    def bind(self):
        self.page.on(element(f"{self.prefix}-run"), "click", self.on_run)
        self.page.on(element(f"{self.prefix}-cancel"), "click", self.on_cancel)

    def reset(self):
        self.cancelled, self.result = True, None

    def current(self):
        """The result measured for the run on screen, or None."""
        return self.result[1] if self.result is not None and self.result[0] == self.page.classified else None

    def stopped(self):
        """Whether to stop before the next step: cancelled, or another run came on screen."""
        return self.cancelled or self.page.classified != self.measured_for

    def report(self, done, total, text):
        element(f"{self.prefix}-progress").value = done / total
        element(f"{self.prefix}-status").textContent = text

    def draw(self):
        """The controls for the state of the job (subclasses draw the result too)."""
        element(f"{self.prefix}-cancel").hidden = not self.running

    async def measure(self):
        """The measurement, or None if it stopped (see stopped())."""
        raise NotImplementedError

    def finished(self, result):
        """The status line once a measurement ended (None: it stopped)."""
        return "" if result is not None else "Stopped: nothing was changed."

    async def on_run(self, event, target):
        if self.running:
            return
        if self.page.runtime.edit is not None:
            element(f"{self.prefix}-status").textContent = "Reset the edit first: this measures the image as it is."
            return
        self.running, self.cancelled, self.measured_for = True, False, self.page.classified
        progress = element(f"{self.prefix}-progress")
        progress.hidden, progress.value = False, 0
        self.draw()
        try:
            result = await self.measure()
        except Exception as error:
            result = None
            self.page.notify([f"The {self.what} could not be measured: {error}."], error=True)
        self.running, progress.hidden = False, True
        if result is not None:
            self.result = (self.measured_for, result)
        self.draw()
        element(f"{self.prefix}-status").textContent = status = self.finished(result)
        self.page.announce(status or f"Measured: the {self.what}.")

    def on_cancel(self, event, target):
        self.cancelled = True
