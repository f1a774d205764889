from django.urls import re_path

from warehouse.incidents import hooks

app_name = "hooks"

# Alerting systems post here: /hooks/alertmanager/<receiver>, /hooks/grafana/<receiver>. A trailing slash
# is accepted too: it is easy to paste into an alerting config, and a redirect would lose the POST.
RECEIVER = r"(?P<receiver>[-a-zA-Z0-9_]+)/?"

urlpatterns: list = [
    re_path(rf"^alertmanager/{RECEIVER}$", hooks.alertmanager, name="alertmanager"),
    re_path(rf"^grafana/{RECEIVER}$", hooks.grafana, name="grafana"),
]
