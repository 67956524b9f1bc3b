"""Writes to customers and their addresses."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from common.errors import InvalidInput
from customers.models import Address, Customer

USER_FIELDS = {"email", "first_name", "last_name"}
CUSTOMER_FIELDS = {"phone", "marketing_opt_in"}
ADDRESS_FIELDS = {"label", "recipient", "line1", "line2", "city", "postal_code", "country", "is_default"}


@transaction.atomic
def customer_ensure(*, user: AbstractBaseUser) -> Customer:
    """The customer profile of `user`, created on first use (staff and users made by createsuperuser have none)."""
    customer, _ = Customer.objects.select_related("user").get_or_create(user=user)
    return customer


def customer_id_for_user(*, user: AbstractBaseUser) -> int:
    return customer_ensure(user=user).id


@transaction.atomic
def customer_register(
    *, username: str, email: str, password: str, first_name: str = "", last_name: str = ""
) -> Customer:
    user_model = get_user_model()
    taken = InvalidInput("That username is taken.", fields={"username": ["That username is taken."]})
    if user_model.objects.filter(username__iexact=username).exists():
        raise taken
    user = user_model(username=username, email=email, first_name=first_name, last_name=last_name)
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput("The password is too weak.", fields={"password": exc.messages}) from exc
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # two registrations racing for the same name
        raise taken from exc
    return Customer.objects.create(user=user)


@transaction.atomic
def customer_update(*, customer: Customer, data: dict[str, Any]) -> Customer:
    user = customer.user
    user_changes = [name for name in data if name in USER_FIELDS]
    for name in user_changes:
        setattr(user, name, data[name])
    if user_changes:
        user.save(update_fields=user_changes)
    for name in (n for n in data if n in CUSTOMER_FIELDS):
        setattr(customer, name, data[name])
    customer.full_clean()
    customer.save()
    return customer


@transaction.atomic
def address_create(*, customer: Customer, **fields: Any) -> Address:
    unknown = set(fields) - ADDRESS_FIELDS
    if unknown:
        raise TypeError(f"address_create() got unexpected fields {sorted(unknown)}")
    # A customer's first address is their default; a new default replaces the old one.
    first = not Address.objects.filter(customer=customer).exists()
    if fields.get("is_default") or first:
        Address.objects.filter(customer=customer, is_default=True).update(is_default=False)
        fields["is_default"] = True
    address = Address(customer=customer, **fields)
    address.full_clean()
    address.save()
    return address


@transaction.atomic
def address_update(*, address: Address, data: dict[str, Any]) -> Address:
    changes = {name: value for name, value in data.items() if name in ADDRESS_FIELDS}
    if changes.get("is_default"):
        Address.objects.filter(customer_id=address.customer_id, is_default=True).exclude(id=address.id).update(
            is_default=False
        )
    for name, value in changes.items():
        setattr(address, name, value)
    address.full_clean()
    address.save()
    return address


@transaction.atomic
def address_delete(*, address: Address) -> None:
    address.delete()
