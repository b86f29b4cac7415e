"""notifier: tells parents what happens at school."""

__version__ = "0.1.0"
