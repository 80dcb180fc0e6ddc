"""python -m vit_lens: the vit-lens command without installing it."""
import sys

from .cli import main

sys.exit(main())
