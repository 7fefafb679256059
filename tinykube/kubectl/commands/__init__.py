"""One module per kubectl command; each exposes ``FLAGS`` and ``async def run(f, opts)``."""
