"""Entry point run by PyScript: start the page."""
from app import App

app = App()
await app.start()  # noqa: F704 - PyScript runs this module with top-level await
