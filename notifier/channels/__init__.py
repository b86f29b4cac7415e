"""Channels: how a rendered message leaves us (email, Telegram, SMS, file outbox)."""
