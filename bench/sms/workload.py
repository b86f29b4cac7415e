"""The messages a run sends: who gets what, built before the clock starts."""

from __future__ import annotations

from dataclasses import dataclass

from notifier.channels.base import Recipient
from notifier.channels.smpp import split
from notifier.channels.sms_text import fitted

# A journal mark as parents get it: UCS-2, 105 characters, 2 segments; and a Latin one in
# GSM-7, 103 characters, 1 segment.
CYRILLIC = (
    "Алгебра, 24 ноября: оценка 5 за ответ на уроке. Иванов Пётр. "
    "Классный руководитель Петрова Анна Сергеевна"
)
LATIN = (
    "Algebra, 24 November: mark 5 for an answer in class. Ivanov Petr. "
    "Class teacher: Petrova Anna Sergeevna"
)
TEXTS = (CYRILLIC, LATIN)
SENDER = "School17"


@dataclass(frozen=True)
class Message:
    recipient: Recipient
    text: str  # as the channel sends it (sms_text.fitted), which the bare clients send as is
    ref: str

    @property
    def phone(self) -> str:
        assert self.recipient.phone is not None
        return self.recipient.phone


def messages(n: int, start: int = 0) -> list[Message]:
    """`n` messages to distinct numbers, the two texts alternating."""
    out = []
    for i in range(start, start + n):
        text = TEXTS[i % len(TEXTS)]
        phone = f"+7900{i:07d}"
        out.append(
            Message(
                recipient=Recipient(guardian_id=f"g{i}", name="Bench", phone=phone),
                text=fitted(text, 2).text,
                ref=f"notifier-{i}",
            )
        )
    return out


def smpp_parts(batch: list[Message]) -> int:
    """submit_sm (and so receipts) the batch takes over SMPP."""
    return sum(len(split(m.text).chunks) for m in batch)


def segments_label() -> str:
    return ", ".join(
        f"{fitted(t, 2).size.segments}-segment {fitted(t, 2).size.encoding}" for t in TEXTS
    )
