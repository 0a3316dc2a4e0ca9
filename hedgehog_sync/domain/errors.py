"""What can go wrong, as classes: recovery reads the class, never the message text."""

from __future__ import annotations


class HedgehogSyncError(Exception):
    """Base of every error hedgehog-sync raises on purpose. Messages never carry secrets."""

    #: whether trying the same thing again later may succeed
    transient: bool = False


class TransientError(HedgehogSyncError):
    """May succeed if tried again: timeouts, 5xx, 429, connection resets."""

    transient = True

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        # seconds the server asked us to wait (HTTP Retry-After), if it said
        self.retry_after = retry_after


class PermanentError(HedgehogSyncError):
    """Will fail the same way until a person changes something: credentials, refs, content."""


# --- inventory ---------------------------------------------------------------------------------
class InventoryError(PermanentError):
    """The inventory file, or one entry of it, is invalid."""


# --- git ---------------------------------------------------------------------------------------
class GitError(HedgehogSyncError):
    """Base for git failures (not raised itself)."""


class GitUnreachableError(GitError, TransientError):
    """The git server could not be reached or dropped the connection."""


class GitTimeoutError(GitError, TransientError):
    """A git operation ran past its time limit."""


class GitAuthError(GitError, PermanentError):
    """The git server refused our credentials, or the host key is unknown."""


class GitRefError(GitError, PermanentError):
    """The configured ref (branch, tag, commit) does not exist in the repository."""


class GitUrlRefused(GitError, PermanentError):
    """The git URL uses a transport or form we refuse (ext::, fd::, a leading dash, local paths)."""


# --- cluster -----------------------------------------------------------------------------------
class ClusterError(HedgehogSyncError):
    """Base for Kubernetes API failures (not raised itself)."""


class ClusterUnreachableError(ClusterError, TransientError):
    """The fabric's API server could not be reached, or answered 5xx."""


class ClusterTimeoutError(ClusterError, TransientError):
    """The fabric's API server did not answer in time."""


class RateLimitedError(ClusterError, TransientError):
    """The API server answered 429; retry_after says how long it asked us to wait."""


class ClusterAuthError(ClusterError, PermanentError):
    """The API server answered 401 or 403, or the kubeconfig is unusable."""


class ClusterConfigError(ClusterError, PermanentError):
    """The kubeconfig or context could not be loaded (missing file, unknown context, exec plugin)."""


# --- content -----------------------------------------------------------------------------------
class InvalidContentError(PermanentError):
    """Input that cannot be used as it is: YAML that is too large, too deep, or not YAML."""


def error_for_http_status(status: int, message: str, retry_after: float | None = None) -> HedgehogSyncError:
    """The error class for an HTTP status from a fabric's API server."""
    if status == 429:
        return RateLimitedError(message, retry_after=retry_after)
    if status in (401, 403):
        return ClusterAuthError(message)
    if status == 408 or status == 504:
        return ClusterTimeoutError(message, retry_after=retry_after)
    if status >= 500:
        return ClusterUnreachableError(message, retry_after=retry_after)
    return PermanentError(message)


# --- budgets -----------------------------------------------------------------------------------
class BudgetExceededError(PermanentError):
    """A reader hit one of its budgets (bytes, objects, pages, files, documents, time) while reading
    untrusted input. The message names the budget, its value, and the setting that raises it."""

    def __init__(self, message: str, budget: str = ""):
        super().__init__(message)
        #: the name of the budget that was exceeded (for example "kubernetes.max_response_bytes")
        self.budget = budget
