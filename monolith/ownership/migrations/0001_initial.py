from django.db import migrations, models

# IF NOT EXISTS: the migration engine creates the same table when it records an owner in a database where this
# migration has not run yet (strangler_playbook.handover.owner_record holds the same statement).
CREATE = (
    'CREATE TABLE IF NOT EXISTS "_strangler_data_owner" ('
    '"spec" varchar(100) NOT NULL PRIMARY KEY, '
    '"owner" varchar(16) NOT NULL, '
    '"recorded_at" varchar(40) NOT NULL)'
)


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(CREATE, reverse_sql='DROP TABLE IF EXISTS "_strangler_data_owner"'),
            ],
            state_operations=[
                migrations.CreateModel(
                    name="DataOwner",
                    fields=[
                        ("spec", models.CharField(max_length=100, primary_key=True, serialize=False)),
                        (
                            "owner",
                            models.CharField(
                                choices=[("monolith", "Monolith"), ("service", "Service")], max_length=16
                            ),
                        ),
                        (
                            "recorded_at",
                            models.CharField(help_text="ISO 8601, UTC, as the engine wrote it", max_length=40),
                        ),
                    ],
                    options={"db_table": "_strangler_data_owner"},
                ),
            ],
        ),
    ]
