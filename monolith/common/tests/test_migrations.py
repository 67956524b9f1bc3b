from decimal import Decimal
from io import StringIO

from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def test_the_models_have_no_unmigrated_changes(db):
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)


BEFORE_THE_SEAM = [("orders", "0001_initial"), ("inventory", "0002_initial"), ("reviews", "0001_initial")]
THE_SEAM = [
    ("orders", "0002_orderline_product_as_plain_id"),
    ("inventory", "0003_product_as_plain_id"),
    ("reviews", "0002_review_product_as_plain_id"),
]
REFERRING = ["orders_orderline", "inventory_stock", "inventory_reservation", "reviews_review"]


def foreign_keys_to_products() -> list[str]:
    with connection.cursor() as cursor:
        return [
            f"{table}.{name}"
            for table in REFERRING
            for name, constraint in connection.introspection.get_constraints(cursor, table).items()
            if constraint["foreign_key"] and constraint["foreign_key"][0] == "catalog_product"
        ]


def rows(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [tuple(row) for row in cursor.fetchall()]


def test_the_foreign_keys_to_products_become_plain_ids_keeping_every_row(transactional_db):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_THE_SEAM)
    old = executor.loader.project_state(BEFORE_THE_SEAM).apps
    try:
        category = old.get_model("catalog", "Category").objects.create(name="Kitchen", slug="kitchen")
        mug = old.get_model("catalog", "Product").objects.create(
            sku="MUG-1", name="Enamel mug", slug="mug", price="12.50", category=category
        )
        user = old.get_model("auth", "User").objects.create(username="alice")
        customer = old.get_model("customers", "Customer").objects.create(user=user)
        warehouse = old.get_model("inventory", "Warehouse").objects.create(code="B1", name="B", city="B", country="DE")
        order = old.get_model("orders", "Order").objects.create(customer=customer, currency="EUR", total="25.00")
        old.get_model("orders", "OrderLine").objects.create(order=order, product=mug, quantity=2, unit_price="12.50")
        old.get_model("inventory", "Stock").objects.create(product=mug, warehouse=warehouse, quantity=7)
        old.get_model("inventory", "Reservation").objects.create(
            product=mug, warehouse=warehouse, quantity=2, order=order
        )
        old.get_model("reviews", "Review").objects.create(product=mug, customer=customer, rating=5)
        assert len(foreign_keys_to_products()) == 4

        executor = MigrationExecutor(connection)
        executor.migrate(THE_SEAM)

        assert foreign_keys_to_products() == []
        [(product_id, name, quantity, unit_price)] = rows(
            "SELECT product_id, name, quantity, unit_price FROM orders_orderline"
        )
        assert (product_id, name, quantity, Decimal(str(unit_price))) == (mug.id, "Enamel mug", 2, Decimal("12.50"))
        assert rows("SELECT product_id, quantity FROM inventory_stock") == [(mug.id, 7)]
        assert rows("SELECT product_id, quantity FROM inventory_reservation") == [(mug.id, 2)]
        assert rows("SELECT product_id, rating FROM reviews_review") == [(mug.id, 5)]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
