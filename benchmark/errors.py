"""The one error type users see: a single line naming the file or key and the fix."""


class DsbenchError(Exception):
    """User-facing error. The CLI prints ``error: <message>`` on one line and exits 2."""

    def __init__(self, message: str):
        # One line always: a traceback-free message that names the culprit and the fix.
        super().__init__(" ".join(str(message).split()))
