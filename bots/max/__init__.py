"""The maxapi (MAX) adapter: MAX's update JSON into the core's events (updates.py), the core's
replies through maxapi's Bot (conversation.py), one update fed to the core (feed.py), by
webhook (webhook.py) or long polling (polling.py), and the command menu (menu.py).

maxapi's Bot makes every API call (the one of runtime.max, with our API base and CA); its
types parse the updates. Its Dispatcher is not used: it routes to handlers of its own and
logs whole update payloads (names, texts) on a malformed one, while the core has one entry
for all messengers and the logs carry ids only."""
