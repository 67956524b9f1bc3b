from django.db import models

# The table is a contract with the migration engine, which writes it in the flip of `strangler data cutover` and
# `rollback` (strangler_playbook.handover.owner_record) and creates it if this migration has not run: change it
# in both places.
TABLE = "_strangler_data_owner"


class DataOwner(models.Model):
    """One row per extracted domain (the engine's spec name, e.g. `catalog`); no row means the monolith owns it."""

    class Owner(models.TextChoices):
        MONOLITH = "monolith"
        SERVICE = "service"

    spec = models.CharField(max_length=100, primary_key=True)
    owner = models.CharField(max_length=16, choices=Owner.choices)
    recorded_at = models.CharField(max_length=40, help_text="ISO 8601, UTC, as the engine wrote it")

    class Meta:
        db_table = TABLE

    def __str__(self) -> str:
        return f"{self.spec}: {self.owner}"
