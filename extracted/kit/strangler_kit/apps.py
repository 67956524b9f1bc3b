from django.apps import AppConfig


class StranglerKitConfig(AppConfig):
    name = "strangler_kit"
    verbose_name = "Strangler extraction kit"

    def ready(self) -> None:
        from strangler_kit.identity import schema  # noqa: F401  registers the OpenAPI description of the auth
