"""The roster the API fuzz tests post against: a school, a class, a pupil with a guardian,
a teacher."""

from __future__ import annotations

import httpx

from tests.factories import pupil_with_guardian, put, school_with_class


async def _seed(api: httpx.AsyncClient) -> None:
    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-1")
    await put(api, "/v1/staff/t-1", {"school_id": "s17", "full_name": "Учитель"})
