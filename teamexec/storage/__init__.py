"""Files on disk: atomic writes, the task store, the lock, the message files."""
