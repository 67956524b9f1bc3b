"""Stock and reservations stop holding foreign keys into the catalog (docs/seam.md): the catalog may live in
another database. The `product_id` columns, their indexes and every row stay."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0001_initial"),
        ("inventory", "0002_initial"),
    ]

    operations = [
        # The database constraints go; the columns, their indexes and their data stay (SQLite copies the tables).
        *(
            migrations.AlterField(
                model_name=model,
                name="product",
                field=models.ForeignKey(
                    db_constraint=False,
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="+",
                    to="catalog.product",
                ),
            )
            for model in ("stock", "reservation")
        ),
        # Then Django's model of the same columns becomes plain integers: no SQL at all.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(model_name="stock", name="inventory_stock_one_per_product_warehouse"),
                migrations.RemoveIndex(model_name="reservation", name="inventory_res_prod_wh_status"),
                migrations.RemoveField(model_name="stock", name="product"),
                migrations.RemoveField(model_name="reservation", name="product"),
                migrations.AddField(
                    model_name="stock", name="product_id", field=models.BigIntegerField(db_index=True)
                ),
                migrations.AddField(
                    model_name="reservation", name="product_id", field=models.BigIntegerField(db_index=True)
                ),
                migrations.AddConstraint(
                    model_name="stock",
                    constraint=models.UniqueConstraint(
                        fields=("product_id", "warehouse"), name="inventory_stock_one_per_product_warehouse"
                    ),
                ),
                migrations.AddIndex(
                    model_name="reservation",
                    index=models.Index(
                        fields=["product_id", "warehouse", "status"], name="inventory_res_prod_wh_status"
                    ),
                ),
            ],
        ),
    ]
