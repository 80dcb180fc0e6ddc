"""Write web/precache.json, what the service worker keeps for offline use (vit_lens/precache.py).

python scripts/precache.py   (scripts/setup.sh runs it after build_web.py and the export step)
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from vit_lens.paths import WEB
from vit_lens.precache import write

if __name__ == "__main__":
    listing = write(WEB)
    print(f"web/precache.json: {len(listing['files'])} files, version {listing['version']}")
