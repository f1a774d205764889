"""Gate runs: the evidence a gate reads (`snapshot`), how the candidate compares with production
(`comparison`), the checks (`checks`), the runs' life from request to verdict in a worker (`services`) and
their reports (`selectors`)."""
