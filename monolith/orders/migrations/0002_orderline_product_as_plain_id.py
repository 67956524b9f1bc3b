"""Order lines stop holding a foreign key into the catalog (docs/seam.md): the catalog may live in another
database. The column `product_id`, its index and every row stay; the line gets the product's name, copied from the
catalog now and at purchase time from then on, so nothing about a past order needs the catalog again."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_product_names(apps, schema_editor):
    OrderLine = apps.get_model("orders", "OrderLine")
    Product = apps.get_model("catalog", "Product")
    names = Product.objects.using(schema_editor.connection.alias).filter(id=OuterRef("product_id")).values("name")
    OrderLine.objects.using(schema_editor.connection.alias).update(name=Subquery(names[:1]))


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0001_initial"),
        ("orders", "0001_initial"),
    ]

    operations = [
        # The database constraint goes; the column, its index and its data stay (SQLite copies the table).
        migrations.AlterField(
            model_name="orderline",
            name="product",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="catalog.product",
            ),
        ),
        # Then Django's model of the same column becomes a plain integer: no SQL at all.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(model_name="orderline", name="orders_line_one_per_product"),
                migrations.RemoveField(model_name="orderline", name="product"),
                migrations.AddField(
                    model_name="orderline", name="product_id", field=models.BigIntegerField(db_index=True)
                ),
                migrations.AddConstraint(
                    model_name="orderline",
                    constraint=models.UniqueConstraint(
                        fields=("order", "product_id"), name="orders_line_one_per_product"
                    ),
                ),
            ],
        ),
        migrations.AddField(
            model_name="orderline",
            name="name",
            field=models.CharField(default="", max_length=200),
            preserve_default=False,
        ),
        migrations.RunPython(copy_product_names, migrations.RunPython.noop, elidable=False),
    ]
