"""The bots: one core for every messenger (core/: commands, texts, keyboards, flows), with an
aiogram adapter for Telegram (dispatcher.py, middlewares.py, webhook.py, telegram/) and a
maxapi adapter for MAX (max/). See DESIGN.md."""
