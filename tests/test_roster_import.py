"""Roster CSV import: through the API on both databases, and `notifier roster import`."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
import subprocess
from pathlib import Path

import httpx
from sqlalchemy import func, select

from notifier.auth import Role, create_token
from notifier.db.engine import create_engine, session_factory
from notifier.db.models import ChannelBlock, Consent, Guardian, GuardianStudent, Student
from notifier.roster import service
from notifier.roster.schemas import ClassIn, SchoolIn
from notifier.runtime import Runtime
from tests.factories import put
from tests.processes import BIN, env_with

HEADER = (
    "school_id;class_id;student_id;student_name;guardian_id;guardian_name;phone;email;consent_date"
)
RU_HEADER = "школа;класс;ученик_id;ученик;родитель_id;родитель;телефон;почта;согласие"
BAD_UTF8 = "is not valid UTF-8; save the file as UTF-8 or Windows-1251"


def guardian(i: int) -> list[str]:
    """Guardian number i as a row gives it: a third have only a phone (written the Russian
    way), a third only an email, a third both; a half have a consent date, in either format."""
    phone = f"8 (916) {500 + i:03d}-{i % 100:02d}-{i * 7 % 100:02d}" if i % 3 != 2 else ""
    email = f"g{i:03d}@parents.example.org" if i % 3 != 0 else ""
    consent = {0: "01.09.2026", 1: "2026-09-02"}.get(i % 4, "")
    return [f"g{i:03d}", f"Петрова Анна {i}", phone, email, consent]


def pupil(n: int, guardian_no: int) -> list[str]:
    return ["s17", "7b" if n % 2 else "8a", f"p{n:03d}", f"Петров Иван {n}", *guardian(guardian_no)]


def good_rows() -> list[list[str]]:
    """100 pairs: 100 pupils, 90 guardians, the first ten of whom have a second child."""
    return [pupil(n, n) for n in range(90)] + [pupil(90 + i, i) for i in range(10)]


def line(values: list[str], delimiter: str = ";") -> str:
    return delimiter.join(values) + "\r\n"


# The seven bad rows of the acceptance, each with what its error must say.
BAD_ROWS = [
    ("s17;7b;p900;Иванов Пётр;g900;Иванова Ольга;12345;;", "phone '12345' is not a valid phone"),
    (
        "s17;7b;p901;Иванов Пётр;g901;Иванова Ольга;;mama@@example;",
        "email 'mama@@example' is not a valid email address",
    ),
    (
        "s17;9z;p902;Иванов Пётр;g902;Иванова Ольга;;g902@parents.example.org;",
        "unknown class '9z' in school 's17'",
    ),
    (
        "s17;7b;p005;Сидоров Пётр;g903;Сидорова Ольга;;g903@parents.example.org;",
        "pupil id 'p005' is already on line 7 with a different name",
    ),
    ("s17;7b;p904;;g904;Иванова Ольга;;g904@parents.example.org;", "missing student_name"),
    ("s17;7b;p905;Кузнецов Олег;g905;Кузнецова Вера;;g905@parents.example.org;", BAD_UTF8),
    (
        "s17;7b;p906;Иванов Пётр;g906;Иванова Ольга;;g906@parents.example.org;;лишнее",
        "extra column(s): 10 values, the header has 9 columns",
    ),
]


def acceptance_file() -> tuple[bytes, dict[int, str]]:
    """A UTF-8 file of 100 good rows and the 7 bad ones (the one with a wrong encoding is in
    Windows-1251); the bad rows' line numbers and what their errors say."""
    bad = list(BAD_ROWS)
    lines = [(HEADER + "\r\n").encode()]
    expected: dict[int, str] = {}
    for position, row in enumerate(good_rows()):
        lines.append(line(row).encode())
        if position % 14 == 13 and bad:  # a bad row after every 14 good ones
            text, reason = bad.pop(0)
            lines.append((text + "\r\n").encode("cp1251" if reason == BAD_UTF8 else "utf-8"))
            expected[len(lines)] = f"line {len(lines)} {BAD_UTF8}" if reason == BAD_UTF8 else reason
    assert not bad and len(lines) == 108
    return b"".join(lines), expected


async def roster_school(api: httpx.AsyncClient) -> None:
    await put(api, "/v1/schools/s17", {"name": "Школа № 17"})
    await put(api, "/v1/schools/s18", {"name": "Школа № 18"})
    await put(api, "/v1/classes/7b", {"school_id": "s17", "name": "7Б"})
    await put(api, "/v1/classes/8a", {"school_id": "s17", "name": "8А"})
    await put(api, "/v1/classes/5a", {"school_id": "s18", "name": "5А"})


async def counts(runtime: Runtime) -> dict[str, int]:
    async with runtime.sessions() as session:
        return {
            model.__tablename__: await session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Student, Guardian, GuardianStudent, Consent)
        }


async def post_csv(api: httpx.AsyncClient, data: bytes, **params: str) -> httpx.Response:
    return await api.post(
        "/v1/roster/import", content=data, params=params, headers={"Content-Type": "text/csv"}
    )


async def test_good_rows_import_and_bad_ones_are_reported_by_line(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await roster_school(api)
    data, expected = acceptance_file()
    assert b"p005;" in data.split(b"\r\n")[6]  # line 7, which the duplicate names

    dry = await post_csv(api, data, dry_run="true")
    assert dry.status_code == 200, dry.text
    report = dry.json()
    assert (report["rows"], report["imported"], report["dry_run"]) == (107, 100, True)
    assert (report["encoding"], report["delimiter"]) == ("utf-8", ";")
    errors = {e["line"]: e["error"] for e in report["errors"]}
    assert set(errors) == set(expected), errors
    for number, reason in expected.items():
        assert reason in errors[number], (number, errors[number])
    assert (await api.get("/v1/guardians/g000")).status_code == 404
    assert await counts(runtime) == dict.fromkeys(
        ("students", "guardians", "guardian_students", "consents"), 0
    )

    r = await post_csv(api, data)
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["rows"], report["imported"], report["dry_run"]) == (107, 100, False)
    assert {e["line"]: e["error"] for e in report["errors"]} == errors
    assert (report["students_created"], report["guardians_created"]) == (100, 90)
    consents = sum(1 for i in range(90) if i % 4 < 2)
    assert (report["links_created"], report["consents_created"]) == (100, consents)
    assert await counts(runtime) == {
        "students": 100,
        "guardians": 90,
        "guardian_students": 100,
        "consents": consents,
    }

    g0 = (await api.get("/v1/guardians/g000")).json()
    assert g0["phone"] == "+79165000000" and g0["email"] is None
    assert g0["student_ids"] == ["p000", "p090"]
    assert g0["consent"]["document"] == "Согласие от 01.09.2026 (импорт)"
    assert g0["consent"]["granted_at"].startswith("2026-09-01T00:00:00")
    g1 = (await api.get("/v1/guardians/g001")).json()
    assert (g1["phone"], g1["email"]) == ("+79165010107", "g001@parents.example.org")
    assert g1["consent"]["document"] == "Согласие от 02.09.2026 (импорт)"
    g2 = (await api.get("/v1/guardians/g002")).json()
    assert (g2["phone"], g2["email"], g2["consent"]) == (None, "g002@parents.example.org", None)
    assert g2["full_name"] == "Петрова Анна 2" and g2["locale"] == "ru"
    for missing in ("g900", "g901", "g902", "g903", "g904", "g905", "g906"):
        assert (await api.get(f"/v1/guardians/{missing}")).status_code == 404
    async with runtime.sessions() as session:
        kept = await session.get(Student, "p005")
        assert kept is not None and kept.full_name == "Петров Иван 5"

    again = (await post_csv(api, data)).json()  # the same file again changes nothing
    assert again["imported"] == 100
    assert [
        again[k]
        for k in (
            "students_created",
            "students_updated",
            "guardians_created",
            "guardians_updated",
            "links_created",
            "consents_created",
        )
    ] == [0] * 6


async def test_windows_1251_with_commas_and_russian_header_as_multipart(
    api: httpx.AsyncClient,
) -> None:
    await roster_school(api)
    rows = [RU_HEADER.replace(";", ",")] + [",".join(r) for r in good_rows()[:10]]
    data = "\r\n".join(rows).encode("cp1251")
    r = await api.post("/v1/roster/import", files={"file": ("класс.csv", data, "text/csv")})
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["encoding"], report["delimiter"]) == ("windows-1251", ",")
    assert (report["rows"], report["imported"], report["errors"]) == (10, 10, [])
    g3 = (await api.get("/v1/guardians/g003")).json()
    assert g3["full_name"] == "Петрова Анна 3" and g3["phone"] == "+79165030321"


async def test_an_unusable_file_answers_422(api: httpx.AsyncClient) -> None:
    await roster_school(api)
    for data, says in [
        (b"", "empty"),
        (b"\r\n\r\n", "empty"),
        ("ученик;телефон\r\nИванов;89161234567\r\n".encode(), "school_id, class_id"),
        (b"school_id;class_id;student_id;student_name;guardian_id;guardian_name\r\n", "phone"),
    ]:
        r = await post_csv(api, data)
        assert r.status_code == 422, r.text
        assert says in r.json()["error"], r.text
    r = await api.post("/v1/roster/import", files={"roster": ("r.csv", b"x", "text/csv")})
    assert r.status_code == 422 and "`file`" in r.json()["error"]
    r = await post_csv(api, HEADER.encode() + b"\n" + b"x" * (20 * 1024 * 1024))
    assert r.status_code == 413 and "20 MB" in r.json()["error"]


async def test_rows_that_contradict_earlier_ones(api: httpx.AsyncClient) -> None:
    await roster_school(api)
    first = pupil(1, 1)
    other_phone = [*first[:4], "g001", "Петрова Анна 1", "+7 916 000-00-01", "", "2026-09-02"]
    rows = [
        HEADER,
        line(first).strip(),
        line(first).strip(),  # the same pair again
        line(["s17", "8a", "p002", "Петров Иван 2", *other_phone[4:]]).strip(),
        '"s17";"7b";"p003";"Петров ""Ваня"" 3";"g003";"Петрова Анна 3";;g003@parents.example.org;',
        "s17;7b;p004;Петров Иван 4;g004;Петрова Анна 4",  # short, no phone or email
        's17;7b;p005;"Петров Иван 5;g005;Петрова Анна 5;;g005@parents.example.org;',
        "s17;7b;p006;Петров Иван 6;g006;Петрова Анна 6;;g006@parents.example.org;",
    ]
    report = (await post_csv(api, "\n".join(rows).encode())).json()
    errors = {e["line"]: e["error"] for e in report["errors"]}
    assert errors[3] == "pupil 'p001' and guardian 'g001' are already on line 2"
    assert errors[4] == "guardian id 'g001' is already on line 2 with a different phone and email"
    assert errors[6] == "no phone and no email: give at least one"
    assert errors[7] == "a quoted value takes in a line break (line 7-8): is a quote unclosed?"
    assert report["imported"] == 2 and set(errors) == {3, 4, 6, 7}
    assert (await api.get("/v1/guardians/g003")).json()["student_ids"] == ["p003"]


async def test_a_later_file_updates_what_is_stored_and_keeps_the_rest(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await roster_school(api)
    first = "\n".join([HEADER, line(pupil(1, 1)).strip()]).encode()
    assert (await post_csv(api, first)).json()["imported"] == 1
    async with runtime.sessions() as session:
        session.add_all(
            ChannelBlock(guardian_id="g001", channel=c, reason="bounced") for c in ("sms", "email")
        )
        await session.commit()
    # No phone or consent column: what is stored for them stays.
    later = [
        "school_id;class_id;student_id;student_name;guardian_id;guardian_name;email",
        "s17;8a;p001;Петров Иван Сергеевич;g001;Петрова Анна 1;anna@parents.example.org",
        "s17;7b;p777;Петрова Мария;g001;Петрова Анна 1;anna@parents.example.org",
    ]
    report = (await post_csv(api, "\n".join(later).encode())).json()
    assert report["errors"] == [] and report["imported"] == 2
    assert (report["students_created"], report["students_updated"]) == (1, 1)
    assert (report["guardians_created"], report["guardians_updated"]) == (0, 1)
    assert (report["links_created"], report["consents_created"]) == (1, 0)
    g1 = (await api.get("/v1/guardians/g001")).json()
    assert (g1["phone"], g1["email"]) == ("+79165010107", "anna@parents.example.org")
    assert g1["student_ids"] == ["p001", "p777"]
    assert g1["consent"]["document"] == "Согласие от 02.09.2026 (импорт)"
    async with runtime.sessions() as session:
        p1 = await session.get(Student, "p001")
        assert p1 is not None and (p1.class_id, p1.full_name) == ("8a", "Петров Иван Сергеевич")
        blocks = await session.scalars(select(ChannelBlock.channel))
        assert list(blocks) == ["sms"]  # the new email may be tried again; the phone is as was


async def test_a_school_bound_token_imports_only_its_school(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await roster_school(api)
    async with runtime.sessions() as session:
        token, _ = await create_token(session=session, role=Role.admin, school_id="s17")
        teacher, _ = await create_token(session=session, role=Role.teacher, staff_id="t-1")
    rows = [
        HEADER,
        line(pupil(1, 1)).strip(),
        line(["s18", "5a", "p500", "Орлов Олег", *guardian(50)]).strip(),
    ]
    data = "\n".join(rows).encode()
    r = await api.post(
        "/v1/roster/import",
        content=data,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["imported"] == 1
    assert r.json()["errors"] == [
        {"line": 3, "error": "school 's18' is not yours: your token is bound to 's17'"}
    ]
    r = await api.post(
        "/v1/roster/import",
        content=data,
        headers={"Authorization": f"Bearer {teacher}", "Content-Type": "text/csv"},
    )
    assert r.status_code == 403


async def _school_in(url: str) -> None:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            await service.put_school(session=session, school_id="s17", body=SchoolIn(name="Ш"))
            for class_id in ("7b", "8a"):
                body = ClassIn(school_id="s17", name=class_id)
                await service.put_class(session=session, class_id=class_id, body=body)
    finally:
        await engine.dispose()


def test_the_cli_imports_a_file_and_prints_the_errors(
    tmp_path: Path, sqlite_template: Path
) -> None:
    db = tmp_path / "cli.db"
    shutil.copy(sqlite_template, db)
    url = f"sqlite+aiosqlite:///{db}"
    asyncio.run(_school_in(url))
    good = good_rows()[:3]
    bad = ["s17", "9z", "p900", "Иванов Пётр", "g900", "Иванова Ольга", "12345", "", ""]
    csv_file = tmp_path / "roster.csv"
    csv_file.write_text(HEADER + "\n" + "".join(line(r) for r in [*good, bad]), encoding="utf-8")

    def notifier(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "notifier"), "roster", "import", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=env_with(database_url=url),
            timeout=60,
        )

    def stored() -> int:
        with contextlib.closing(sqlite3.connect(db)) as conn:
            return int(conn.execute("SELECT count(*) FROM guardian_students").fetchone()[0])

    dry = notifier(str(csv_file), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would import 3 of 4 rows" in dry.stdout and stored() == 0
    result = notifier(str(csv_file))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("imported 3 of 4 rows (utf-8, ';')"), result.stdout
    assert lines[1] == (
        "line 5: phone '12345' is not a valid phone number; unknown class '9z' in school 's17'"
    )
    assert stored() == 3

    assert notifier(str(tmp_path / "nowhere.csv")).returncode == 2
    (tmp_path / "bad.csv").write_text("name;phone\nИванов;89161234567\n", encoding="utf-8")
    unusable = notifier(str(tmp_path / "bad.csv"))
    assert unusable.returncode == 2 and "lacks column(s)" in unusable.stderr
