"""One module per console page (or group of pages); each has ``routes(console)``."""
