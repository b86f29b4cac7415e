"""The message templates, installed as the data package `notifier_templates` (see setup.py);
notifier/rendering.py reads them through importlib.resources, in a checkout and a wheel alike."""
