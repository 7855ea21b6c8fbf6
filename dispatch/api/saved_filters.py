"""A user's saved searches of the case list: /api/saved-filters/.

List, create (saving under a name one already has replaces its query) and delete one's
own; another user's are not found (404), as an unknown id. The query is the query string
of GET /api/cases/ and is checked as that list checks it, so a saved filter always
applies.
"""

from __future__ import annotations

from typing import Any, cast

from django.http import QueryDict
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from dispatch.api.serializers import CaseListQuery
from dispatch.api.views import ERROR
from incidents.errors import InvalidInput
from map_ui.models import SavedFilter

MAX_PER_USER = 50
# What a saved search keeps: the filters, not the page it was on.
NOT_KEPT = ("limit", "offset", "format")


class SavedFilterSerializer(serializers.ModelSerializer[SavedFilter]):
    query = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=1000,
        help_text="The query string of GET /api/cases/ (without limit and offset).",
    )  # fmt: skip

    class Meta:
        model = SavedFilter
        fields = ["id", "name", "query", "created"]
        read_only_fields = ["id", "created"]

    def validate_name(self, name: str) -> str:
        name = name.strip()
        if not name:
            raise serializers.ValidationError(_("请填写名称。"))
        return name

    def validate_query(self, query: str) -> str:
        params = QueryDict(query.lstrip("?"), mutable=True)
        for name in NOT_KEPT:
            params.pop(name, None)
        check = CaseListQuery(data=params)
        if not check.is_valid():
            problems = "; ".join(
                f"{field}: {' '.join(str(m) for m in messages)}"
                for field, messages in check.errors.items()
            )
            raise serializers.ValidationError(
                _("查询条件无效：%(problems)s") % {"problems": problems[:300]}
            )
        return str(params.urlencode())


class SavedFilterViewSet(
    mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet[SavedFilter]
):
    serializer_class = SavedFilterSerializer
    pagination_class = None  # a short list: at most MAX_PER_USER

    def get_queryset(self) -> Any:
        return SavedFilter.objects.filter(user_id=cast(int, self.request.user.pk))

    @extend_schema(summary="My saved case searches")
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="Save a case search (a name I already use: its query is replaced)",
        responses={201: SavedFilterSerializer, 200: SavedFilterSerializer, 400: ERROR},
    )
    def create(self, request: Request) -> Response:
        data = SavedFilterSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        name, query = data.validated_data["name"], data.validated_data.get("query", "")
        mine = self.get_queryset()
        if not mine.filter(name=name).exists() and mine.count() >= MAX_PER_USER:
            raise InvalidInput(
                _("最多保存 %(count)s 个查询；请先删除不用的。") % {"count": MAX_PER_USER},
                field="name",
            )
        saved, created = SavedFilter.objects.update_or_create(
            user_id=cast(int, request.user.pk), name=name, defaults={"query": query}
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(SavedFilterSerializer(saved).data, status=code)

    @extend_schema(summary="Delete one of my saved searches", responses={204: None, 404: ERROR})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().destroy(request, *args, **kwargs)
