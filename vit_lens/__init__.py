"""ViT Lens as a package: the vit-lens command (vit_lens.cli) and show(), the page in a notebook."""


def show(*args, **kwargs):
    """The page at a given model, image and view, in a notebook's output (vit_lens.notebook.show)."""
    from .notebook import show as show_page
    return show_page(*args, **kwargs)
