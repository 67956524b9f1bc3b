from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command

from catalog.models import Product


def dev_setup():
    out = StringIO()
    call_command("dev_setup", "--seed-args", "--products 30 --customers 4 --orders 8", stdout=out)
    return out.getvalue()


def test_the_first_run_seeds_and_creates_the_demo_users(db):
    out = dev_setup()

    assert Product.objects.count() == 30
    assert set(get_user_model().objects.filter(username__in=["staff", "demo"]).values_list("username", flat=True)) == {
        "staff",
        "demo",
    }
    assert "staff / strangler-staff" in out


def test_later_runs_keep_the_data_as_it_is(db):
    dev_setup()
    Product.objects.filter(id=Product.objects.first().id).update(name="Renamed by the developer")

    out = dev_setup()

    assert "nothing to do" in out
    assert Product.objects.count() == 30
    assert Product.objects.filter(name="Renamed by the developer").exists()
