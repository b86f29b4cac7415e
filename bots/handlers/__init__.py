"""Bot handlers: thin edges that parse an update, call one service and answer."""
