"""Work a database blip must not lose: the Celery options of tasks that claim a row before working on it.

When PostgreSQL restarts or fails over, a task's claim fails before anything is recorded. Acknowledged as
a plain failure, the message would be gone and the row left for the sweeper's re-queue, minutes later.
Instead the task is sent again after 1, 2, 4, … seconds (at most 30 apart, 10 times: about 3 minutes in
all), and the claim, a conditional UPDATE, makes a retry that finds the work done or taken do nothing.
"""

from django.db import InterfaceError, OperationalError

# OperationalError: the server went away, refused or terminated the connection. InterfaceError: the
# connection was already closed when the query was sent. Other database errors are bugs, not blips.
DATABASE_BLIP_RETRY = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": False,
    "max_retries": 10,
}
