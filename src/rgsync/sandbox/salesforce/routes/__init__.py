"""The REST API's route groups, each a mixin of `SalesforceEmulator` (server.py), which routes
requests to them:

- common.py               what every group shares: `RouteGroup` (record JSON, `fields=`), error
                          responses, JSON bodies, the version path
- describe.py             limits, describeGlobal, describe, sObject info and list views
- sobjects.py             one record: create, get, update, delete, by external ID, upsert;
                          getUpdated / getDeleted
- query.py                query / queryAll and their cursors (nextRecordsUrl)
- sobject_collections.py  sObject Collections: create, update, delete, upsert, retrieve
- composite.py            Composite: subrequests, @{reference} substitution, allOrNone
"""
