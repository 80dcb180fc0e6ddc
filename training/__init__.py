"""The default model's training, apart from the export step: `python -m training.head` fits the
linear CIFAR-10 head, `python -m training` fine-tunes the upper blocks (see __main__.py).

data.py chooses the images, cache.py turns them into training views, model.py holds the model and
its losses, loop.py trains; the results are committed under export/assets/."""
