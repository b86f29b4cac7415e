"""The words of each area of the console's pages, a module per area with a `TEXTS` dict of
key -> (Russian, English); notifier/console/i18n.py merges them."""
