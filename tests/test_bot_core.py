"""The messenger-neutral bot core (bots/core): it imports neither aiogram nor maxapi, packs and
unpacks button payloads in the format Telegram keyboards already carry, refuses any other,
reads commands, lays out keyboards as aiogram did, and keeps conversation state in Redis."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from aiogram.filters.callback_data import CallbackData
from aiogram.utils.keyboard import InlineKeyboardBuilder
from redis.asyncio import Redis

from bots.core.model import Button, Chat, Command, Text, layout, written
from bots.core.payloads import MAX_BYTES, Ask, Child, Decide, Pick, PickClass, Quiet, unpack
from bots.core.state import Draft, Drafts, Step
from notifier.channels.base import Messenger

CORE = Path(__file__).resolve().parent.parent / "bots" / "core"
MESSENGER_LIBRARIES = ("aiogram", "maxapi")


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return names


def test_the_core_imports_neither_aiogram_nor_maxapi() -> None:
    files = sorted(CORE.rglob("*.py"))
    assert len(files) >= 10, "the walk found the core's modules"
    wrong = [
        f"{path.name}: {name}"
        for path in files
        for name in _imports(path)
        if name.split(".")[0] in MESSENGER_LIBRARIES
        # the rest of bots/ are the adapters: the core leans on none of them
        or (name.split(".")[0] == "bots" and not name.startswith("bots.core"))
    ]
    assert wrong == []


def test_the_walk_sees_imports_it_should() -> None:
    """The checker itself finds a messenger import, so a green run means something."""
    assert "aiogram" in _imports(CORE.parent / "dispatcher.py")
    assert any(n.startswith("maxapi") for n in _imports(CORE.parent / "max" / "updates.py"))


# Today's Telegram keyboards were packed by aiogram's CallbackData: ours read and write the same.
class _OldAsk(CallbackData, prefix="ask"):
    what: str
    child: int


class _OldPick(CallbackData, prefix="p"):
    child: int
    category: int
    mode: int


class _OldDecide(CallbackData, prefix="ad"):
    send: bool


def test_payloads_keep_the_format_of_aiogram_callback_data() -> None:
    assert Ask(what="marks", child=1).pack() == _OldAsk(what="marks", child=1).pack()
    # /settings buttons changed their prefix when the day's report became a mode: an old
    # button's mode index meant another mode, so it must not unpack as a Pick.
    assert unpack(_OldPick(child=-1, category=3, mode=2).pack()) is None
    assert Pick(child=-1, category=3, mode=2).pack() == "pm:-1:3:2"
    assert Decide(send=True).pack() == _OldDecide(send=True).pack()
    assert Decide(send=False).pack() == _OldDecide(send=False).pack()
    for payload in (
        PickClass(index=2),
        Decide(send=True),
        Ask(what="homework", child=0),
        Pick(child=-1, category=5, mode=1),
        Child(child=-1),
        Quiet(choice=4),
    ):
        packed = payload.pack()
        assert len(packed.encode()) <= MAX_BYTES
        assert unpack(packed) == payload


@pytest.mark.parametrize(
    "data",
    [
        "",
        "ask",
        "ask:marks",
        "ask:marks:1:2",  # a field too many
        "ask:Marks:1",  # not as we pack it
        "ask:marks:one",
        "ad:2",
        "ad:true",
        "pm:1:2:x",
        "zz:1",  # a prefix we never made
        "q:1" + "0" * 70,  # longer than any of ours (and than Telegram takes)
        '{"action": "marks"}',  # JSON, as some bots pack
        "marks|0",  # maxapi's CallbackPayload format
        "c:9999999",
        "c:1\n",
    ],
)
def test_unpack_refuses_what_we_did_not_pack(data: str) -> None:
    assert unpack(data) is None


CHAT = Chat(Messenger.max, chat_id="1000000810001", user_id="810001", private=True)


def test_written_reads_commands_and_leaves_text_alone() -> None:
    assert written(CHAT, "/start abc-DEF_123") == Command(CHAT, "start", "abc-DEF_123")
    assert written(CHAT, "  /Marks@school17_bot  ") == Command(CHAT, "marks", "")
    assert written(CHAT, "/announce") == Command(CHAT, "announce", "")
    assert written(CHAT, "привет /marks") == Text(CHAT, "привет /marks")
    assert written(CHAT, "/") == Text(CHAT, "/")
    assert written(CHAT, "") == Text(CHAT, "")
    assert CHAT.address == "810001"  # a MAX dialog is reached by its user
    telegram = Chat(Messenger.telegram, chat_id="700001", user_id="700001", private=True)
    assert telegram.address == "700001"


@pytest.mark.parametrize("sizes", [(), (3,), (2, 3, 2, 2, 3), (4, 1)])
def test_layout_shapes_rows_as_aiogram_adjust_did(sizes: tuple[int, ...]) -> None:
    buttons = [Button(f"b{i}", f"c:{i}") for i in range(17)]
    builder = InlineKeyboardBuilder()
    for b in buttons:
        builder.button(text=b.text, callback_data=b.payload)
    if sizes:
        builder.adjust(*sizes)
    expected = [[b.text for b in row] for row in builder.export()]
    assert [[b.text for b in row] for row in layout(buttons, *sizes)] == expected


async def test_drafts_live_in_redis_per_messenger_and_chat_and_lapse(redis_clean: str) -> None:
    redis = Redis.from_url(redis_clean)
    try:
        drafts = Drafts(redis)
        telegram = Chat(Messenger.telegram, chat_id="810001", user_id="810001", private=True)
        draft = Draft(Step.typing, class_id="7b", class_name="7Б")
        await drafts.put(CHAT, draft)
        assert await drafts.get(CHAT) == draft
        assert await drafts.get(telegram) is None  # the same number in another messenger
        assert await redis.keys("fsm:*") == [b"fsm:max:810001:announce"]
        assert 0 < await redis.ttl("fsm:max:810001:announce") <= 3600
        await redis.set("fsm:max:810001:announce", b"not json")
        assert await drafts.get(CHAT) is None  # unreadable: as if none
        assert await drafts.drop(CHAT) is True
        assert await drafts.drop(CHAT) is False
    finally:
        await redis.aclose()
