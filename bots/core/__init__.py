"""The bot, once for every messenger: commands, texts, keyboards and flows over a neutral model
(model.py) and a port each messenger's adapter implements (port.py). Imports neither aiogram
nor maxapi (tests/test_bot_core.py checks it): bots/dispatcher.py adapts it to Telegram,
bots/max/ to MAX."""
