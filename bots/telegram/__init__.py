"""The aiogram (Telegram) adapter: updates into the core's events (events.py), the core's
replies through aiogram's Bot (conversation.py). bots/dispatcher.py wires them into aiogram's
Dispatcher, bots/webhook.py serves Telegram's webhook."""
