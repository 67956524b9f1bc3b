"""python manage.py demo_users: the staff user and the customer that `make up` prints, with dev-only passwords."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rest_framework.authtoken.models import Token

from customers import services as customer_services

DEMO_USERS = {
    # username: (password, is_staff)
    "staff": ("strangler-staff", True),
    "demo": ("strangler-demo", False),
}


class Command(BaseCommand):
    help = "Create the demo staff user and demo customer (development only: the passwords are public)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the credentials and tokens as JSON")
        parser.add_argument("--reset", action="store_true", help="also reset the password and role of existing ones")

    def handle(self, *args: Any, **options: Any) -> None:
        if str(settings.SETTINGS_MODULE).endswith(".production"):
            raise CommandError("demo users have public passwords: refusing to create them with production settings")
        user_model = get_user_model()
        lines = []
        for username, (password, is_staff) in DEMO_USERS.items():
            user, created = user_model.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.com"}
            )
            # Hashing is slow on purpose (~1 s); do it when the user is new or when asked to.
            if created or options["reset"]:
                user.is_staff = user.is_superuser = is_staff
                user.set_password(password)
                user.save()
            customer_services.customer_ensure(user=user)
            token, _ = Token.objects.get_or_create(user=user)
            lines.append({"username": username, "password": password, "staff": is_staff, "token": token.key})
        if options["json"]:
            self.stdout.write(json.dumps(lines))
            return
        for line in lines:
            role = "staff (admin + API)" if line["staff"] else "customer"
            self.stdout.write(f"{role:<20} {line['username']} / {line['password']}   token {line['token']}")
