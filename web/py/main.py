"""Entry point, run by web/js/python.js: start the page."""
from app import App

app = App()
await app.start()  # noqa: F704 - run with top-level await (runPythonAsync)
