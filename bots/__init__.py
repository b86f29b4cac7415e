"""The Telegram bot: build_dispatcher(settings), handlers, middlewares, webhook (see DESIGN.md)."""
