"""TAP lines for the Python halves of the test suites (see tests/run.sh)."""
n = failed = 0


def check(cond, what):
    """Prints "ok N - what" or "not ok N - what"; counts failures."""
    global n, failed
    n += 1
    print(("ok %d - " if cond else "not ok %d - ") % n + what)
    failed += not cond
    return cond


def status():
    """The exit status: 1 if any check failed."""
    return 1 if failed else 0
