from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "warehouse.audit"
    label = "audit"
    verbose_name = "Audit trail"
