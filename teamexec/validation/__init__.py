"""Parsing and checking a session's definition files, as pure functions over text."""
