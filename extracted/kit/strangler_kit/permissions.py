"""Permission rules of the catalog, as the monolith has them.

Objects a caller may not see answer 404 (their existence is not leaked); objects a caller may see but not
change answer 403. Querysets scope what can be seen, these classes decide what can be changed.
"""

from __future__ import annotations

from rest_framework import permissions
from rest_framework.request import Request
from rest_framework.views import APIView


class IsStaffOrReadOnly(permissions.BasePermission):
    """Anyone reads; staff writes."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)
