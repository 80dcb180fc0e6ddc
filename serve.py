#!/usr/bin/env python3
"""python serve.py [--root web] [--host 127.0.0.1] [--port 8000] [--quiet]: the same as `vit-lens serve`.

Kept so the page can be served from a checkout without installing anything; the server itself is
vit_lens/serve.py.
"""
import sys

from vit_lens.serve import (CONTENT_SECURITY_POLICY, MIME_TYPES, SECURITY_HEADERS, StaticHandler, build_parser,
                            content_type, main, make_server)

__all__ = ["CONTENT_SECURITY_POLICY", "MIME_TYPES", "SECURITY_HEADERS", "StaticHandler", "build_parser",
           "content_type", "main", "make_server"]

if __name__ == "__main__":
    sys.exit(main(prog="python serve.py"))
