"""Reviews stop holding a foreign key into the catalog (docs/seam.md): the catalog may live in another database.
The `product_id` column, its indexes and every row stay."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0001_initial"),
        ("reviews", "0001_initial"),
    ]

    operations = [
        # The database constraint goes; the column, its indexes and its data stay (SQLite copies the table).
        migrations.AlterField(
            model_name="review",
            name="product",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="catalog.product",
            ),
        ),
        # Then Django's model of the same column becomes a plain integer: no SQL at all.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(model_name="review", name="reviews_one_per_customer_per_product"),
                migrations.RemoveIndex(model_name="review", name="reviews_review_product_created"),
                migrations.RemoveField(model_name="review", name="product"),
                migrations.AddField(
                    model_name="review", name="product_id", field=models.BigIntegerField(db_index=True)
                ),
                migrations.AddConstraint(
                    model_name="review",
                    constraint=models.UniqueConstraint(
                        fields=("product_id", "customer"), name="reviews_one_per_customer_per_product"
                    ),
                ),
                migrations.AddIndex(
                    model_name="review",
                    index=models.Index(fields=["product_id", "created_at"], name="reviews_review_product_created"),
                ),
            ],
        ),
    ]
