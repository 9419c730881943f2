"""What runs beside each agent: the built-in worker, its prompt, its outbox.

Standard library only (and only stdlib-only teamexec modules): the worker starts
once per task, so its import time is the executor's overhead.
"""
