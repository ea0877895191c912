"""Exception types. Each message is one actionable line; the CLI prints it without a traceback."""


class KBQAError(Exception):
    """Base class for every error kbqa reports to a user."""


class UsageError(KBQAError):
    """A bad argument: empty question, malformed filter, unknown preset."""


class DocumentError(KBQAError):
    """A source file that cannot be read: corrupt, empty, binary or unsupported."""


class CorpusMissingError(KBQAError):
    """The corpus folder (or a path given to ingest) does not exist."""


class StoreError(KBQAError):
    """The index is missing or was built with an incompatible embedding model."""


class LLMError(KBQAError):
    """The LLM endpoint failed (unreachable, timeout, auth, rate limit, bad output)."""


class EmbeddingError(KBQAError):
    """The embedding endpoint failed (unreachable, timeout, auth, unknown model, malformed reply)."""
