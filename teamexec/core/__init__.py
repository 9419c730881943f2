"""The pure core: plain data and decisions (state in, decisions out).

Nothing here reads or writes files, starts processes or looks at a clock it was
not given. import-linter keeps subprocess, watchdog, psutil, rich and typer out.
"""
