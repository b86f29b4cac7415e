"""Areas of the console's pages, a module each with its `router` (console/__init__.py includes
every module here)."""
