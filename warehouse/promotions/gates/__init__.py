"""Gate runs: the evidence a gate reads (`snapshot`), its checks (`checks`), the runs' life from request to
verdict in a worker (`services`) and their reports (`selectors`)."""
