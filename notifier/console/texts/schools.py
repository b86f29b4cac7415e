"""The list of schools a region-wide admin chooses from."""

TEXTS: dict[str, tuple[str, str]] = {
    "nav.schools": ("Школы", "Schools"),
    "schools.title": ("Школы", "Schools"),
    "schools.intro": (
        "Выберите школу: страницы администратора покажут её данные.",
        "Choose a school: the admin pages show its data.",
    ),
    "schools.none": (
        "Школ пока нет. Добавьте первую через API (PUT /v1/schools/{id}).",
        "No schools yet. Add the first through the API (PUT /v1/schools/{id}).",
    ),
}
