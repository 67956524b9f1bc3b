from strangler_kit.testing import assert_error

from catalog.models import Category

CATEGORIES = "/api/catalog/categories/"


def test_anyone_reads_the_tree_and_can_ask_for_roots_or_children(anon, make_category):
    clothing = make_category("Clothing")
    shoes = make_category("Shoes", parent=clothing)
    garden = make_category("Garden")

    everything = anon.get(CATEGORIES).json()
    roots = anon.get(CATEGORIES, {"root": "true"}).json()
    children = anon.get(CATEGORIES, {"parent": clothing.id}).json()

    assert everything["count"] == 3
    assert [c["id"] for c in roots["results"]] == [clothing.id, garden.id]
    assert children["results"][0] == {
        "id": shoes.id,
        "name": "Shoes",
        "slug": shoes.slug,
        "parent": clothing.id,
        "created_at": children["results"][0]["created_at"],
        "updated_at": children["results"][0]["updated_at"],
    }


def test_staff_create_a_subcategory(client_for, charlie, make_category):
    clothing = make_category("Clothing")

    response = client_for(charlie).post(CATEGORIES, {"name": "Hats", "slug": "hats", "parent": clothing.id})

    assert response.status_code == 201, response.content
    assert Category.objects.get(slug="hats").parent == clothing


def test_a_category_cannot_move_below_its_own_descendant(client_for, charlie, make_category):
    clothing = make_category("Clothing")
    shoes = make_category("Shoes", parent=clothing)

    response = client_for(charlie).patch(f"{CATEGORIES}{clothing.id}/", {"parent": shoes.id})

    error = assert_error(response, 400, "invalid")
    assert "parent" in error["fields"]
    clothing.refresh_from_db()
    assert clothing.parent is None


def test_a_category_with_children_cannot_be_deleted(client_for, charlie, make_category):
    clothing = make_category("Clothing")
    make_category("Shoes", parent=clothing)

    assert_error(client_for(charlie).delete(f"{CATEGORIES}{clothing.id}/"), 409, "in_use")
    assert Category.objects.count() == 2


def test_a_category_with_products_cannot_be_deleted(client_for, charlie, make_product):
    product = make_product()

    assert_error(client_for(charlie).delete(f"{CATEGORIES}{product.category_id}/"), 409, "in_use")
    assert Category.objects.filter(id=product.category_id).exists()


def test_a_customer_cannot_create_a_category(client_for, alice, db):
    assert_error(client_for(alice).post(CATEGORIES, {"name": "X", "slug": "x"}), 403, "permission_denied")
    assert not Category.objects.exists()
