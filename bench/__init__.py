"""`make bench`: measurements on a registry seeded for the purpose, each next to a floor from the same run."""
