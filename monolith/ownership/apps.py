from django.apps import AppConfig


class OwnershipConfig(AppConfig):
    name = "ownership"
    verbose_name = "Data ownership, as the migration engine records it"
