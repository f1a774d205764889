"""Promotion requests and their sign-offs: asking, cancelling, checking again and archiving (`services`),
signing off (`signoffs`), what other writes do to a waiting request (`lifecycle`), and the reviewer's
pages (`selectors`)."""
