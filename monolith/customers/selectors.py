"""Reads of customers. Other apps get ids and booleans, never model instances."""

from __future__ import annotations

from django.db.models import QuerySet

from customers.models import Address, Customer


def customer_for_user(*, user_id: int) -> Customer | None:
    return Customer.objects.select_related("user").filter(user_id=user_id).first()


def customer_id_for_user(*, user_id: int) -> int | None:
    return Customer.objects.filter(user_id=user_id).values_list("id", flat=True).first()


def address_list(*, customer_id: int | None) -> QuerySet[Address]:
    return Address.objects.filter(customer_id=customer_id)


def address_belongs_to(*, address_id: int, customer_id: int) -> bool:
    return Address.objects.filter(id=address_id, customer_id=customer_id).exists()
