"""The serving bench's load: wrk driving a list of paths in turn, and what the server's processes spent.

Each request asks for the next path in turn, with a token and, for pollers, the path's ETag; wrk's Lua
`done()` prints the figures as one line of JSON.
"""

import json
import os
import re
import subprocess
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

WRK_THREADS = 2

# Each request asks for the next model in turn; done() prints the figures as one line of JSON.
WRK_SCRIPT = """
local paths = {%(paths)s}
local etags = {%(etags)s}
local token = "%(token)s"
local counter = 0
request = function()
  counter = counter + 1
  local index = (counter %% #paths) + 1
  local headers = {}
  if token ~= "" then headers["Authorization"] = "Bearer " .. token end
  if #etags > 0 then headers["If-None-Match"] = etags[index] end
  return wrk.format("GET", paths[index], headers)
end
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format('WRK {"requests": %%d, "seconds": %%f, "p50": %%d, "p99": %%d, ' ..
    '"bad_status": %%d, "socket_errors": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
"""


@dataclass(frozen=True)
class Load:
    per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad: int
    cpu_us: float = 0.0  # the web server's CPU time per request (its processes' user + system time)


def process_group_cpu_seconds(group: int) -> float:
    """User and system CPU time of every process in process group `group` (a gunicorn master and its
    workers, threads included), from /proc: what a run cost the server, whatever else took the machine."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        # After "pid (comm)": state ppid pgrp ... utime (11th) stime (12th).
        if int(fields[2]) == group:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def wrk(
    url: str, paths: list[str], *, token: str = "", etags: list[str] = (), seconds: int, connections: int
) -> Load:
    def lua_list(items) -> str:
        return ", ".join(json.dumps(item) for item in items)

    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"paths": lua_list(paths), "etags": lua_list(etags), "token": token})
    try:
        output = subprocess.run(
            ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", "-s", script.name, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    figures = json.loads(re.search(r"^WRK (.*)$", output, re.MULTILINE).group(1))
    return Load(
        per_second=figures["requests"] / figures["seconds"],
        p50_ms=figures["p50"] / 1000,
        p99_ms=figures["p99"] / 1000,
        requests=figures["requests"],
        bad=figures["bad_status"] + figures["socket_errors"],
    )


def get(url: str, path: str, headers: dict) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()
