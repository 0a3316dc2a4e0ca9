"""promtool from Debian's `prometheus` package, installed with apt-get when absent; the tests that need
it skip, saying why, only when it cannot be installed."""

from hedgehog_sync_tests.debian import debian_tools


def promtool() -> str:
    (path,) = debian_tools(["promtool"], ["prometheus"])
    return str(path)
