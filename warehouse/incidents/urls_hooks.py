from django.urls import path

app_name = "hooks"

# Alerting systems post here: /hooks/alertmanager/<receiver>, /hooks/grafana/<receiver>.
urlpatterns: list = []
