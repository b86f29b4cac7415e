"""The roster: schools, classes, pupils, guardians, staff, consent and preferences."""
