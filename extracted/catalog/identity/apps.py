from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = "Identity signed by the proxy"

    def ready(self) -> None:
        from identity import schema  # noqa: F401  registers the OpenAPI description of the authentication
