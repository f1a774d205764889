"""Promotion policies: the rules (`rules`), their revisions (`services`) and their pages (`selectors`)."""
