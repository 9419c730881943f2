"""The executor: the loop that applies the core's decisions, its processes and events."""
