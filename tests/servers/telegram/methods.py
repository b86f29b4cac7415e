"""The Bot API methods the server knows, checked as Telegram checks them."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn
from urllib.parse import urlsplit

from tests.servers.telegram.markup import _check_url
from tests.servers.telegram.params import _p_bool, _p_int, _p_json, _p_str, _update_type
from tests.servers.telegram.records import (
    NOT_MODIFIED,
    POLL_CONFLICT,
    QUERY_TOO_OLD,
    WEBHOOK_CONFLICT,
    SentMessage,
    Webhook,
    _ApiError,
    _Reply,
    _StoredMessage,
)
from tests.servers.telegram.state import BotState

_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
# Update types Telegram sends when allowed_updates was never given (or given as []).
_NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


class Methods(BotState):
    """One handler per Bot API method (`BotApiServer` dispatches to them)."""

    def _method_table(self) -> dict[str, Callable[[dict[str, Any]], Awaitable[Any] | Any]]:
        return {
            "getme": self._get_me,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "answercallbackquery": self._answer_callback_query,
            "deletemessage": self._delete_message,
            "getupdates": self._get_updates,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "setmycommands": self._set_my_commands,
            "deletemycommands": self._delete_my_commands,
            "getmycommands": self._get_my_commands,
            "close": lambda params: True,
            "logout": lambda params: True,
        }

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        at = time.monotonic()
        chat_key = (_p_str(params, "chat_id") or "").strip()
        raw_text = _p_str(params, "text") or ""
        parse_mode = _p_str(params, "parse_mode") or None
        markup: Any = None
        with self._lock:

            def reject(err: _ApiError) -> NoReturn:
                self.sent.append(
                    SentMessage(
                        chat_id=chat_key,
                        text=raw_text,
                        parse_mode=parse_mode,
                        plain="",
                        reply_markup=markup,
                        at=at,
                        accepted=False,
                        error_code=err.code,
                        description=err.description,
                        params=params,
                    )
                )
                raise err

            try:
                if not chat_key:
                    raise _ApiError(400, "Bad Request: chat_id is empty")
                fault = self._take_fault(chat_key)
                if fault is not None:
                    raise _ApiError(fault.code, fault.description, fault.retry_after)
                self._flood_check(chat_key, at)
                blocked = self._blocked.get(chat_key)
                if blocked is not None:
                    raise _ApiError(403, blocked)
                chat_id = self._chat_id(params)
                markup = self._reply_markup(params)
                _, _, plain, entities = self._formatted(params)
            except _ApiError as err:
                reject(err)
            message_id = self._new_message_id(chat_key)
            message: dict[str, Any] = {
                "message_id": message_id,
                "from": self._bot_user(),
                "chat": self._chat(chat_id),
                "date": int(time.time()),
                "text": plain,
            }
            if entities:
                message["entities"] = entities
            preview = _p_json(params, "link_preview_options")
            if isinstance(preview, dict) and preview:
                message["link_preview_options"] = preview
            if isinstance(markup, dict) and "inline_keyboard" in markup:
                message["reply_markup"] = markup
            self._messages[(chat_key, message_id)] = _StoredMessage(message, from_bot=True)
            self.sent.append(
                SentMessage(
                    chat_id=chat_key,
                    text=raw_text,
                    parse_mode=parse_mode,
                    plain=plain,
                    reply_markup=markup,
                    at=at,
                    accepted=True,
                    message_id=message_id,
                    entities=entities,
                    params=params,
                )
            )
            return message

    @staticmethod
    def _reply_markup(params: dict[str, Any]) -> Any:
        markup = _p_json(
            params, "reply_markup", "Bad Request: can't parse reply keyboard markup JSON object"
        )
        if markup is None:
            return None
        if not isinstance(markup, dict) or not (
            {"inline_keyboard", "keyboard", "remove_keyboard", "force_reply"} & markup.keys()
        ):
            raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return markup
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _ApiError(
                400,
                'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup '
                "must be an Array of Arrays",
            )
        actions = {
            "url", "callback_data", "web_app", "login_url", "switch_inline_query",
            "switch_inline_query_current_chat", "switch_inline_query_chosen_chat",
            "copy_text", "callback_game", "pay",
        }  # fmt: skip
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _ApiError(400, 'Bad Request: can\'t find field "text"')
                if not actions & button.keys():
                    raise _ApiError(
                        400, "Bad Request: text buttons are unallowed in the inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                url = button.get("url")
                if url is not None and _check_url(str(url)) is None:
                    raise _ApiError(
                        400,
                        f"Bad Request: inline keyboard button URL '{url}' is invalid: "
                        "Wrong HTTP URL",
                    )
        return markup

    def _stored_for_edit(self, params: dict[str, Any]) -> tuple[str, _StoredMessage]:
        chat_id = self._chat_id(params)
        message_id = _p_int(params, "message_id")
        if message_id is None:
            raise _ApiError(400, "Bad Request: message identifier is not specified")
        stored = self._messages.get((str(chat_id), message_id))
        if stored is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        if not stored.from_bot:
            raise _ApiError(400, "Bad Request: message can't be edited")
        return str(chat_id), stored

    def _edit_message_text(self, params: dict[str, Any]) -> Any:
        with self._lock:
            markup = self._reply_markup(params)
            _, _, plain, entities = self._formatted(params)
            if _p_str(params, "inline_message_id"):
                return True
            _, stored = self._stored_for_edit(params)
            old = stored.message
            new_markup = (
                markup if isinstance(markup, dict) and "inline_keyboard" in markup else None
            )
            if (
                old.get("text") == plain
                and old.get("entities", []) == entities
                and old.get("reply_markup") == new_markup
            ):
                raise _ApiError(400, NOT_MODIFIED)
            message = {**old, "text": plain, "edit_date": int(time.time())}
            message.pop("entities", None)
            message.pop("reply_markup", None)
            if entities:
                message["entities"] = entities
            if new_markup is not None:
                message["reply_markup"] = new_markup
            stored.message = message
            return message

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> Any:
        with self._lock:
            markup = self._reply_markup(params)
            if _p_str(params, "inline_message_id"):
                return True
            _, stored = self._stored_for_edit(params)
            old = stored.message
            new_markup = (
                markup if isinstance(markup, dict) and "inline_keyboard" in markup else None
            )
            if old.get("reply_markup") == new_markup:
                raise _ApiError(400, NOT_MODIFIED)
            message = {**old, "edit_date": int(time.time())}
            message.pop("reply_markup", None)
            if new_markup is not None:
                message["reply_markup"] = new_markup
            stored.message = message
            return message

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = _p_str(params, "callback_query_id") or ""
        with self._lock:
            if query_id not in self._queries:
                raise _ApiError(400, QUERY_TOO_OLD)
            self._queries.discard(query_id)
        return True

    def _delete_message(self, params: dict[str, Any]) -> bool:
        with self._lock:
            chat_id = self._chat_id(params)
            message_id = _p_int(params, "message_id")
            if self._messages.pop((str(chat_id), message_id or 0), None) is None:
                raise _ApiError(400, "Bad Request: message to delete not found")
        return True

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = _p_int(params, "offset", 0) or 0
        limit = min(max(_p_int(params, "limit", 100) or 100, 1), 100)
        timeout = max(_p_int(params, "timeout", 0) or 0, 0)
        allowed = _p_json(params, "allowed_updates")
        with self._lock:
            if self.webhook is not None:
                raise _ApiError(409, WEBHOOK_CONFLICT)
            if isinstance(allowed, list):
                self._allowed_updates = [str(a) for a in allowed] or None
            self._confirm(offset)
            self._poll_generation += 1
            generation = self._poll_generation
            batch = self._take(limit)
        # A newer poll ends an older one that still waits, with 409 (see below).
        self._wake_pollers()
        if batch or timeout == 0:
            return batch
        event = self._updates_event
        assert event is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        with self._lock:
            self._polls_waiting += 1
        try:
            while True:
                event.clear()
                with self._lock:
                    if self._poll_generation != generation:
                        raise _ApiError(409, POLL_CONFLICT)
                    if self._closing or self.webhook is not None:
                        return []
                    batch = self._take(limit)
                if batch:
                    return batch
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return []
                try:
                    await asyncio.wait_for(event.wait(), remaining)
                except TimeoutError:
                    pass
        finally:
            with self._lock:
                self._polls_waiting -= 1

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            while self._updates and self._updates[0]["update_id"] < offset:
                self._updates.popleft()
        elif offset < 0:
            while len(self._updates) > -offset:
                self._updates.popleft()

    def _take(self, limit: int) -> list[dict[str, Any]]:
        allowed = self._allowed_updates
        kept: deque[dict[str, Any]] = deque()
        for update in self._updates:
            kind = _update_type(update)
            if (kind in allowed) if allowed is not None else (kind not in _NOT_BY_DEFAULT):
                kept.append(update)
        # Telegram never stores updates of types the bot did not ask for.
        self._updates = kept
        return [json.loads(json.dumps(u)) for u in list(kept)[:limit]]

    def _set_webhook(self, params: dict[str, Any]) -> _Reply:
        url = (_p_str(params, "url") or "").strip()
        if not url:
            return self._delete_webhook(params)
        parts = urlsplit(url)
        if parts.scheme.lower() != "https" or not parts.hostname:
            raise _ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        if parts.port not in (None, 80, 88, 443, 8443):
            raise _ApiError(
                400,
                "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
            )
        secret = _p_str(params, "secret_token") or None
        if secret is not None and not _SECRET_RE.fullmatch(secret):
            raise _ApiError(400, "Bad Request: secret token contains unallowed characters")
        max_connections = min(max(_p_int(params, "max_connections", 40) or 40, 1), 100)
        allowed = _p_json(params, "allowed_updates")
        hook = Webhook(
            url=url,
            secret_token=secret,
            max_connections=max_connections,
            allowed_updates=[str(a) for a in allowed] if isinstance(allowed, list) else None,
            ip_address=_p_str(params, "ip_address") or "127.0.0.1",
        )
        with self._lock:
            same = self.webhook == hook
            self.webhook = hook
            if isinstance(allowed, list):
                self._allowed_updates = [str(a) for a in allowed] or None
            if _p_bool(params, "drop_pending_updates"):
                self._updates.clear()
        # A long poll in progress ends (empty) when a webhook is set.
        self._wake_pollers()
        return _Reply(True, "Webhook is already set" if same else "Webhook was set")

    def _delete_webhook(self, params: dict[str, Any]) -> _Reply:
        with self._lock:
            had = self.webhook is not None
            self.webhook = None
            if _p_bool(params, "drop_pending_updates"):
                self._updates.clear()
        return _Reply(True, "Webhook was deleted" if had else "Webhook is already deleted")

    def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            hook = self.webhook
            info: dict[str, Any] = {
                "url": hook.url if hook else "",
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
            if hook is not None:
                info["max_connections"] = hook.max_connections
                if hook.ip_address:
                    info["ip_address"] = hook.ip_address
                if hook.allowed_updates:
                    info["allowed_updates"] = hook.allowed_updates
        return info

    @staticmethod
    def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = _p_json(params, "scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise _ApiError(400, "Bad Request: can't parse BotCommandScope JSON object")
        return json.dumps(scope, sort_keys=True), _p_str(params, "language_code") or ""

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = _p_json(params, "commands")
        if commands is None:
            raise _ApiError(400, 'Bad Request: parameter "commands" is required')
        if not isinstance(commands, list) or len(commands) > 100:
            raise _ApiError(400, "Bad Request: can't parse commands JSON object")
        cleaned = []
        for item in commands:
            if not isinstance(item, dict):
                raise _ApiError(400, "Bad Request: can't parse BotCommand JSON object")
            command = str(item.get("command", ""))
            description = str(item.get("description", ""))
            if not _COMMAND_RE.fullmatch(command):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command, "description": description})
        key = self._commands_key(params)
        with self._lock:
            if cleaned:
                self._commands[key] = cleaned
            else:
                self._commands.pop(key, None)
        return True

    def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        key = self._commands_key(params)
        with self._lock:
            self._commands.pop(key, None)
        return True

    def _get_my_commands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        key = self._commands_key(params)
        with self._lock:
            return list(self._commands.get(key, []))
