from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Sum

from catalog import services as catalog_services
from catalog.models import Category, Product
from customers.models import Customer
from inventory import selectors as inventory_selectors
from inventory.models import Reservation
from orders.models import Order, OrderLine
from ownership import services as ownership_services
from ownership.selectors import Owner
from reviews.models import Review

SMALL = {"products": 60, "customers": 12, "orders": 40, "lines_per_order": 3}


def seed(**options):
    out = StringIO()
    call_command("seed", stdout=out, **{**SMALL, **options})
    return out.getvalue()


def snapshot():
    return {
        "categories": list(Category.objects.values_list("id", "slug", "parent_id")),
        "products": list(
            Product.objects.values_list("id", "sku", "name", "price", "currency", "active", "category_id")
        ),
        "customers": list(get_user_model().objects.values_list("username", "email").order_by("id")),
        "orders": list(Order.objects.values_list("id", "customer_id", "status", "total", "created_at")),
        "lines": list(OrderLine.objects.values_list("order_id", "product_id", "quantity", "unit_price")),
        "reviews": list(Review.objects.values_list("product_id", "customer_id", "rating", "title")),
    }


def test_it_makes_what_was_asked_for_and_says_so(db):
    out = seed()

    assert Product.objects.count() == 60
    assert Customer.objects.count() == 12
    assert Order.objects.count() == 40
    assert 40 <= OrderLine.objects.count() <= 200
    for step in ("categories", "products", "customers", "orders", "stock", "total"):
        assert step in out
    assert "60 products" in out


def test_the_category_tree_is_three_levels_deep(db):
    seed()

    leaf = Category.objects.get(slug="clothing-jackets-womens")
    assert (leaf.parent.slug, leaf.parent.parent.slug, leaf.parent.parent.parent) == (
        "clothing-jackets",
        "clothing",
        None,
    )
    assert not Product.objects.filter(category__children__isnull=False).exists()


def test_the_same_seed_gives_the_same_shop(db):
    seed(seed=7)
    first = snapshot()

    seed(seed=7, flush=True)

    assert snapshot() == first


def test_another_seed_gives_another_shop(db):
    seed(seed=7)
    first = snapshot()

    seed(seed=8, flush=True)

    assert snapshot()["products"] != first["products"]


def test_order_totals_are_the_sum_of_their_lines(db):
    seed()

    for order in Order.objects.prefetch_related("lines"):
        assert order.total == sum(line.unit_price * line.quantity for line in order.lines.all())


def test_open_orders_hold_exactly_their_lines_in_stock_and_nothing_is_oversold(db):
    seed(orders=800)

    open_orders = Order.objects.filter(status__in=["pending", "paid"])
    assert open_orders.exists()
    for order in open_orders.prefetch_related("lines"):
        held = dict(
            Reservation.objects.filter(order=order, status="active")
            .values_list("product_id")
            .annotate(total=Sum("quantity"))
        )
        assert held == {line.product_id: line.quantity for line in order.lines.all()}
    assert not Reservation.objects.exclude(order__status__in=["pending", "paid"]).exists()
    assert not inventory_selectors.stock_list().filter(available__lt=0).exists()


def test_reviews_come_from_buyers_once_per_product(db):
    seed(orders=300)

    assert Review.objects.exists()
    for review in Review.objects.all():
        assert OrderLine.objects.filter(
            order__customer_id=review.customer_id, order__status="shipped", product_id=review.product_id
        ).exists()


def test_the_api_serves_the_seeded_products(db, anon):
    seed()

    body = anon.get("/api/catalog/products/").json()

    assert body["count"] == Product.objects.filter(active=True).count()
    assert body["results"][0]["sku"] == Product.objects.filter(active=True).order_by("id").first().sku


def test_seeding_again_appends_reuses_the_tree_and_leaves_ids_to_the_database(db, make_category):
    seed()
    categories = Category.objects.count()

    seed(seed=9)
    product = catalog_services.product_create(
        sku="NEW-1", name="New", slug="new-1", price="1.00", category=Category.objects.first()
    )

    assert Product.objects.count() == 121
    assert Category.objects.count() == categories
    assert product.id == Product.objects.exclude(id=product.id).order_by("-id").first().id + 1


def test_orders_alone_draw_on_the_products_and_customers_already_there(db):
    seed(orders=0)
    seed(products=0, customers=0, orders=50)

    assert Order.objects.count() == 50
    assert Product.objects.count() == 60
    assert not inventory_selectors.stock_list().filter(available__lt=0).exists()


def test_flush_removes_customers_but_keeps_staff(db, alice, charlie):
    seed(flush=True)

    users = get_user_model().objects
    assert users.filter(username="charlie").exists()
    assert not users.filter(username="alice").exists()
    assert Customer.objects.count() == 12


def test_if_empty_leaves_a_stocked_catalog_alone(db):
    seed()

    out = seed(if_empty=True, products=5)

    assert "nothing to do" in out
    assert Product.objects.count() == 60


@pytest.mark.parametrize("options", [{"products": -1}, {"lines_per_order": 0}])
def test_impossible_sizes_are_refused(db, options):
    with pytest.raises(CommandError):
        seed(**options)
    assert not Product.objects.exists()


def test_orders_without_any_products_are_refused_and_leave_nothing_behind(db):
    with pytest.raises(CommandError, match="products"):
        seed(products=0)
    assert not Customer.objects.exists()


def test_while_the_service_owns_the_catalog_the_seed_leaves_it_alone(db):
    ownership_services.data_owner_record(spec="catalog", owner=Owner.SERVICE)

    assert "the catalog service owns the catalog; nothing to do" in seed(if_empty=True)
    with pytest.raises(CommandError, match="the catalog service owns the catalog"):
        seed()
    assert not Product.objects.exists() and not Order.objects.exists()
