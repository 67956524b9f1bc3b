"""The reviews service (extracted/reviews) as a real process, for the reviews seam: it asks the catalog service
(the session's other real process) whether a product is for sale, as it would ask the proxy in production."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from common.testing_services import IDENTITY_KEY, CatalogService, ReviewsService, free_port, reviews_service
from ownership import services as ownership_services
from ownership.selectors import Owner
from reviews import seam as reviews_seam


@pytest.fixture(scope="session")
def the_reviews_service(service: CatalogService, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReviewsService]:
    with reviews_service(tmp_path_factory.mktemp("reviews-service"), catalog_url=service.url) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_reviews_client() -> Iterator[None]:
    """Each test starts with a new client: a breaker opened by one test must not refuse the next's calls."""
    reviews_seam._client.cache_clear()
    yield
    reviews_seam._client.cache_clear()


@pytest.fixture
def service_owns_reviews(db: None, settings: Any, the_reviews_service: ReviewsService) -> ReviewsService:
    """As after `strangler data cutover` of reviews: the engine recorded the service as the owner."""
    settings.REVIEWS_SERVICE_URL = the_reviews_service.url
    settings.STRANGLER_IDENTITY_KEY = IDENTITY_KEY
    ownership_services.data_owner_record(spec=reviews_seam.SPEC, owner=Owner.SERVICE)
    return the_reviews_service


@pytest.fixture
def reviews_service_down(service_owns_reviews: ReviewsService, settings: Any) -> None:
    """The service owns reviews and does not answer: nothing listens at its address."""
    settings.REVIEWS_SERVICE_URL = f"http://127.0.0.1:{free_port()}"
