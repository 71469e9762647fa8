"""Describing the org: limits, describeGlobal, sObject info and describe, and list views (their
list, describe and results)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rgsync.sandbox.http import Response

from .. import ids, soql
from ..errors import RequestError
from .common import COLLECTION_LIMIT, RouteGroup

if TYPE_CHECKING:
    from ..schema import SObjectType


class DescribeRoutes(RouteGroup):
    """GET limits/, sobjects/, sobjects/{type}/, sobjects/{type}/describe and …/listviews/…"""

    def _limits(self) -> Response:
        def pair(limit: int, used: int = 0) -> dict[str, int]:
            return {"Max": limit, "Remaining": max(0, limit - used)}

        return Response(
            200,
            {
                "DailyApiRequests": pair(self.org.api_limit, self.org.api_used),
                "DailyBulkApiBatches": pair(15000),
                "DailyBulkV2QueryJobs": pair(10000),
                "DataStorageMB": pair(1024),
                "FileStorageMB": pair(1024),
                "SingleEmail": pair(5000),
            },
        )

    def _describe_global(self, version: str) -> Response:
        return Response(
            200,
            {
                "encoding": "UTF-8",
                "maxBatchSize": COLLECTION_LIMIT,
                "sobjects": [
                    self._object_flags(obj, obj.describe_global(version)) for obj in self.org.objects.values()
                ],
            },
        )

    def _object_flags(self, obj: SObjectType, body: dict[str, Any]) -> dict[str, Any]:
        body["createable"] = self.org.is_createable(obj)
        return body

    def _info(self, type_name: str, version: str) -> Response:
        obj = self.org.object_type(type_name)
        return Response(
            200, {"objectDescribe": self._object_flags(obj, obj.describe_global(version)), "recentItems": []}
        )

    def _describe(self, type_name: str, version: str) -> Response:
        obj = self.org.object_type(type_name)
        body = self._object_flags(obj, obj.describe(version))
        if not self.org.shared_activities and obj.name in ("Task", "Event"):
            body["fields"] = [f for f in body["fields"] if f["type"] != "junctionidlist"]
        if not body["createable"]:
            for entry in body["fields"]:
                entry["createable"] = False
        body["childRelationships"] = [
            {"childSObject": child, "field": link, "relationshipName": name, "cascadeDelete": True}
            for name, (child, link) in soql.CHILD_RELATIONSHIPS.get(obj.name, {}).items()
        ]
        return Response(200, body)

    # --- list views -----------------------------------------------------------------------------

    def _view(self, type_name: str, view_id: str) -> Any:
        obj = self.org.object_type(type_name)
        normal = ids.normalize(view_id)
        spec = self.org.list_views.get(normal or "")
        if spec is None:
            spec = next((v for v in self.org.list_views.values() if v.developer_name == view_id), None)
        if spec is None or spec.object != obj.name:
            raise RequestError("NOT_FOUND", "The requested resource does not exist", status=404)
        return spec

    def _list_views(self, type_name: str, version: str) -> Response:
        obj = self.org.object_type(type_name)
        base = f"/services/data/v{version}/sobjects/{obj.name}/listviews"
        views = [
            {
                "describeUrl": f"{base}/{v.id}/describe",
                "developerName": v.developer_name,
                "id": v.id,
                "label": v.label,
                "resultsUrl": f"{base}/{v.id}/results",
                "soqlCompatible": True,
                "url": f"{base}/{v.id}",
            }
            for v in self.org.list_views.values()
            if v.object == obj.name
        ]
        return Response(
            200,
            {
                "done": True,
                "listviews": views,
                "nextRecordsUrl": None,
                "size": len(views),
                "sobjectType": obj.name,
            },
        )

    def _list_view_describe(self, type_name: str, view_id: str, version: str) -> Response:
        spec = self._view(type_name, view_id)
        columns = [
            {
                "fieldNameOrPath": c,
                "label": c,
                "sortable": True,
                "hidden": c in ("Id", "CreatedDate", "LastModifiedDate", "SystemModstamp"),
            }
            for c in spec.query().split(" FROM ")[0].removeprefix("SELECT ").split(", ")
        ]
        return Response(
            200,
            {
                "columns": columns,
                "id": spec.id,
                "orderBy": [
                    {"fieldNameOrPath": spec.order_by, "nullsPosition": "first", "sortDirection": "ascending"}
                ],
                "query": spec.query(),
                "relatedEntityId": None,
                "scope": None,
                "scopeEntityId": None,
                "sobjectType": spec.object,
                "whereCondition": {"conditions": [], "conjunction": "and"} if spec.where else None,
            },
        )

    def _list_view_results(self, type_name: str, view_id: str, version: str) -> Response:
        spec = self._view(type_name, view_id)
        result = soql.run(self.org, spec.query(), version=version)
        names = spec.query().split(" FROM ")[0].removeprefix("SELECT ").split(", ")
        records = []
        for record in result.records:
            columns = []
            for name in names:
                value: Any = record
                for part in name.split("."):
                    value = value.get(part) if isinstance(value, dict) else None
                columns.append({"fieldNameOrPath": name, "value": value})
            records.append({"columns": columns})
        return Response(
            200,
            {
                "columns": [],
                "developerName": spec.developer_name,
                "done": True,
                "id": spec.id,
                "label": spec.label,
                "records": records,
                "size": len(records),
            },
        )
