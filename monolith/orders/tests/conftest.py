import pytest

ORDERS = "/api/orders/"


@pytest.fixture
def place(client_for):
    """Place an order as `user` for {product: quantity} and return the response."""

    def place(user, quantities, **extra):
        lines = [{"product": product.id, "quantity": quantity} for product, quantity in quantities.items()]
        return client_for(user).post(ORDERS, {"lines": lines, **extra})

    return place


@pytest.fixture
def stocked(make_product, stock):
    """A product with units on hand."""

    def make(price="10.00", quantity=10, **fields):
        product = make_product(price=price, **fields)
        stock(product, quantity)
        return product

    return make
