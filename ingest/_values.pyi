# The C extension ingest/_values.c; see ingest/values.py.
NONFINITE: int
BAD_UTF8: int
REFUSE_TRUNCATED: int
REFUSE_EXTRA: int
REFUSE_BINARY: int
REFUSE_EXTENSION: int
REFUSE_KEY: int
REFUSE_DEPTH: int
REFUSE_RESERVED: int

def check(data: bytes, max_depth: int, /) -> tuple[int, int]: ...
