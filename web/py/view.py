"""What the shell asks of every view: listen to its controls, start over for a new model, draw.

Browser-only. A view reads the page's store (page.py) and owns its own controls; adding a view is a
subclass and one line in the shell's list (app.py).
"""


class View:
    name = ""  # the view's name in the URL and on its tab (data-view-tab)
    drawn_hidden = False  # drawn with every image even when another view is shown

    def __init__(self, page):
        self.page = page

    @property
    def shown(self):
        return self.page.state.view == self.name

    @property
    def manifest(self):
        """The model on screen's manifest.Manifest."""
        return self.page.manifest

    def bind(self):
        """Listen to the view's own controls (once, at start-up)."""

    def reset(self):
        """A new model is on screen: forget what was drawn for the previous one."""

    def show(self):
        """Draw for the page's model, image and state; may return a coroutine, which the shell schedules."""
