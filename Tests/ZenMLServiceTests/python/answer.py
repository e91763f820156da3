"""The test scripts' one JSON answer line on stdout, whatever zenml or user code prints."""

import os
import sys


def answer_stream():
    """fd 1 for our JSON line only; zenml's log lines and anything else go to stderr."""
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    return out
