"""Reports built from the stored journal: marks and attendance for a period."""
