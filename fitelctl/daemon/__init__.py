"""``fitelctl daemon``: a preloaded fitelctl that runs ``status`` command lines.

A ``status`` process spends about 0.45 s importing (typer, pydantic, httpx, asyncssh)
and compiling its TextFSM templates before its ~20 ms of work.  A monitoring system
that runs ``fitelctl status SITE --nagios`` every minute pays that every time.  The
daemon imports everything once and forks one child per command line; the child takes
over the caller's stdin, stdout and stderr (passed over a Unix socket), environment,
working directory and umask, and runs the command exactly as a process of its own
would: a fresh SSH login, a fresh API read, nothing cached between commands.

``client`` is what every ``fitelctl`` process runs first (standard library only);
``server`` is the daemon.
"""
