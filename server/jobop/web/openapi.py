"""The OpenAPI 3.1 document of the REST API, served at /openapi.json.

Written next to the routes (web/api.py) rather than generated; CI's schemathesis run
checks that what is served agrees with it.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

_ERROR_CODES = {
    "400": "Malformed request (INVALID_ARGUMENT, INVALID_JOB_PARAMETERS, REQUEST_ID_REUSED)",
    "403": "Refused: a Host this server does not serve or a page of another origin "
    "(FORBIDDEN_HOST, FORBIDDEN_ORIGIN), or the caller's role (PERMISSION_DENIED)",
    "404": "No such job, execution or instance (NO_SUCH_JOB, NO_SUCH_JOB_EXECUTION, "
    "NO_SUCH_JOB_INSTANCE)",
    "409": "Conflict (JOB_INSTANCE_ALREADY_EXISTS, CONCURRENT_MODIFICATION)",
    "412": "The execution's state refuses it (JOB_EXECUTION_ALREADY_RUNNING, "
    "JOB_EXECUTION_NOT_RUNNING, JOB_INSTANCE_ALREADY_COMPLETE, JOB_RESTART_NOT_ALLOWED, "
    "JOB_PARAMETERS_NOT_FOUND)",
    "415": "The body is not application/json (UNSUPPORTED_MEDIA_TYPE)",
    "503": "Shutting down or the database is unavailable (SHUTTING_DOWN, DATABASE_UNAVAILABLE)",
}

_STATUSES = ["COMPLETED", "STARTING", "STARTED", "STOPPING", "STOPPED", "FAILED", "ABANDONED"]
_STATUSES.append("UNKNOWN")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: {"$ref": f"#/components/responses/Error{code}"} for code in codes}


_EXECUTION_ID = {
    "name": "executionId",
    "in": "path",
    "required": True,
    "description": "A job execution's id",
    "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
    "example": 1,
}
_JOB_NAME = {
    "name": "jobName",
    "in": "path",
    "required": True,
    "description": "A registered job's name",
    "schema": {"type": "string", "minLength": 1, "maxLength": 100},
    "example": "demoChunkJob",
}
_JOB_NAME_ANY = {**_JOB_NAME, "description": "A job's name (registered or in the repository)"}
_INSTANCE_ID = {**_EXECUTION_ID, "name": "jobInstanceId", "description": "A job instance's id"}
_PAGE = [
    {
        "name": "pageSize",
        "in": "query",
        "description": "At most this many items (default 20, at most 1000)",
        "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
    },
    {
        "name": "pageToken",
        "in": "query",
        "description": "The nextPageToken of the previous page",
        "schema": {"type": "string"},
    },
]


def _operation(
    operation_id: str,
    summary: str,
    parameters: list[dict[str, Any]],
    responses: dict[str, Any],
    *,
    body: str | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "parameters": parameters,
        "responses": responses,
    }
    if body is not None:
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    return operation


def _launch(operation_id: str, summary: str, params: list[Any], body: str) -> dict[str, Any]:
    created = _json(_ref("JobExecution"), "The new execution (STARTING)")
    created["headers"] = {
        "Location": {"description": "/api/executions/{id}", "schema": {"type": "string"}}
    }
    # Links tell clients (and schemathesis' stateful phase) where the new id goes.
    created["links"] = {
        name: {"operationId": name, "parameters": {"executionId": "$response.body#/id"}}
        for name in ("getJobExecution", "stop", "restart", "abandon", "recover")
    }
    responses = {"201": created, **_errors("400", "403", "404", "409", "412", "415", "503")}
    return {"post": _operation(operation_id, summary, params, responses, body=body)}


def _control(operation_id: str, summary: str, body: str = "Empty") -> dict[str, Any]:
    responses = {
        "200": _json(_ref("JobExecution"), "The execution after the change"),
        **_errors("400", "403", "404", "409", "412", "415", "503"),
    }
    return {"post": _operation(operation_id, summary, [_EXECUTION_ID], responses, body=body)}


def _job_action(
    operation_id: str, summary: str, schema: str, body: str = "Empty"
) -> dict[str, Any]:
    responses = {
        "200": _json(_ref(schema), "The job's settings after the change"),
        **_errors("400", "403", "404", "415", "503"),
    }
    return {"post": _operation(operation_id, summary, [_JOB_NAME_ANY], responses, body=body)}


def _get(operation_id: str, summary: str, params: list[Any], schema: str) -> dict[str, Any]:
    responses = {"200": _json(_ref(schema), summary), **_errors("400", "403", "404", "503")}
    return {"get": _operation(operation_id, summary, params, responses)}


def _sse(operation_id: str, summary: str, params: list[Any]) -> dict[str, Any]:
    responses = {
        "200": {
            "description": "Server-Sent Events: `execution` events (data: a JobExecution), "
            "heartbeat comments, then `end` (or `error` with an Error body)",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **_errors("400", "403", "404", "503"),
    }
    return {"get": _operation(operation_id, summary, params, responses)}


def _probe(operation_id: str, summary: str, *, live_only: bool = False) -> dict[str, Any]:
    """The health routes: open, no parameters, a Health body (not the Error one)."""
    health = {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["SERVING", "NOT_SERVING"]}},
    }
    responses = {"200": _json(health, "SERVING")}
    if not live_only:
        responses["503"] = _json(health, "NOT_SERVING")
    responses.update(_errors("403"))
    return {"get": _operation(operation_id, summary, [], responses)}


def _schemas() -> dict[str, Any]:
    time = {"type": ["string", "null"], "format": "date-time"}
    count = {"type": "integer", "minimum": 0}
    exit_status = {
        "type": "object",
        "required": ["exitCode", "exitDescription"],
        "properties": {"exitCode": {"type": "string"}, "exitDescription": {"type": "string"}},
    }
    status = {"type": "string", "enum": _STATUSES}
    job: dict[str, Any] = {
        "type": "object",
        "description": "A job of the catalogue; one only the repository knows "
        "(registered false) has no description, parameters or steps and cannot start here",
        "required": [
            "name",
            "description",
            "registered",
            "parameters",
            "allowUndeclaredParameters",
            "restartable",
            "incrementer",
            "steps",
        ],
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "registered": {"type": "boolean"},
            "parameters": {"type": "array", "items": _ref("ParameterDescription")},
            "allowUndeclaredParameters": {"type": "boolean"},
            "restartable": {"type": "boolean"},
            "incrementer": {"type": "string", "description": "e.g. RunIdIncrementer(run.id)"},
            "steps": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "kind"],
                    "properties": {
                        "name": {"type": "string"},
                        "kind": {
                            "type": "string",
                            "description": "tasklet, chunk, partition or a class",
                        },
                    },
                },
            },
        },
    }
    step_counts = [
        "readCount",
        "writeCount",
        "filterCount",
        "commitCount",
        "rollbackCount",
        "readSkipCount",
        "processSkipCount",
        "writeSkipCount",
    ]
    step_properties: dict[str, Any] = {
        "id": {"type": "integer"},
        "version": {"type": "integer"},
        "jobExecutionId": {"type": "integer"},
        "stepName": {"type": "string"},
        "status": status,
        "exitStatus": _ref("ExitStatus"),
        **{name: count for name in step_counts},
        **{name: time for name in ("createTime", "startTime", "endTime", "lastUpdated")},
        "nodeId": {
            "type": ["string", "null"],
            "description": "the node that ran it: a partition's claiming node, else the "
            "owner of its job execution (null when unknown)",
        },
    }
    execution_properties: dict[str, Any] = {
        "id": {"type": "integer"},
        "version": {"type": "integer", "description": "the change counter (= changeVersion)"},
        "changeVersion": {
            "type": "integer",
            "description": "grows at every persisted change; the SSE ids and afterVersion",
        },
        "jobInstanceId": {"type": "integer"},
        "jobName": {"type": "string"},
        "parameters": {"type": "object", "additionalProperties": _ref("Parameter")},
        "status": status,
        "exitStatus": _ref("ExitStatus"),
        **{name: time for name in ("createTime", "startTime", "endTime", "lastUpdated")},
        "stepExecutions": {"type": "array", "items": _ref("StepExecution")},
        "priority": {"type": "integer", "description": "the queue priority it was launched with"},
        "overdue": {
            "type": "boolean",
            "description": "it ran longer than its job's maxDurationSeconds",
        },
    }
    typed = {
        "string": {"type": "string"},
        "long": {"type": ["integer", "string"]},
        "double": {"type": ["number", "string"]},
        "date": {"type": "string", "description": "ISO-8601 date or date-time"},
        "boolean": {"type": ["boolean", "string"]},
    }
    typed_input = {
        "description": "One type key and optionally identifying (default true)",
        "oneOf": [
            {
                "type": "object",
                "required": [key],
                "properties": {key: schema, "identifying": {"type": "boolean"}},
                "additionalProperties": False,
            }
            for key, schema in typed.items()
        ],
    }
    page = {"nextPageToken": {"type": "string"}}
    priority = {
        "type": ["integer", "null"],
        "minimum": -1000,
        "maximum": 1000,
        "description": "Queue order: a higher priority is claimed first (default 0)",
    }
    settings_properties: dict[str, Any] = {
        "maxConcurrent": {
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": 1_000_000,
            "description": "executions of the job holding a slot at once, cluster-wide",
        },
        "concurrencyKey": {
            "type": ["string", "null"],
            "minLength": 1,
            "maxLength": 100,
            "description": "a job parameter: the limit holds per distinct value of it",
        },
        "paused": {"type": ["boolean", "null"], "description": "new and waiting starts wait"},
        "maxDurationSeconds": {
            "type": ["number", "null"],
            "exclusiveMinimum": 0,
            "description": "an execution running longer is overdue",
        },
        "stopWhenOverdue": {
            "type": ["boolean", "null"],
            "description": "an overdue execution is stopped too",
        },
    }
    settings = {
        "type": "object",
        "required": list(settings_properties),
        "properties": settings_properties,
    }
    queued_properties: dict[str, Any] = {
        "id": {"type": "integer"},
        "jobName": {"type": "string"},
        "priority": {"type": "integer"},
        "position": {"type": "integer", "minimum": 1},
        "queuedSeconds": {"type": "number"},
        "waitingFor": {"type": "string", "description": "why it waits, in words"},
    }
    workload_properties: dict[str, Any] = {
        "jobName": {"type": "string"},
        **settings_properties,
        "declared": settings,
        "override": {
            "type": "object",
            "description": "the run-time values (null: not set, the declared one holds)",
            "required": [*settings_properties, "updated", "updatedBy"],
            "properties": {
                **settings_properties,
                "updated": time,
                "updatedBy": {"type": ["string", "null"]},
            },
        },
        "running": {**count, "description": "executions holding a slot now"},
        "queued": {**count, "description": "starts waiting for a claim"},
    }
    return {
        "Empty": {"type": "object", "maxProperties": 0},
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "reason", "message", "metadata"],
                    "properties": {
                        "code": {"type": "string", "description": "the gRPC status code name"},
                        "reason": {"type": "string", "description": "the ErrorInfo reason"},
                        "message": {"type": "string"},
                        "metadata": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                        },
                    },
                }
            },
        },
        "ExitStatus": exit_status,
        "Parameter": {
            "type": "object",
            "description": "A parameter as requests take it: its type's key and identifying",
            "required": ["identifying"],
            "properties": {**typed, "identifying": {"type": "boolean"}},
            "minProperties": 2,
            "maxProperties": 2,
        },
        "ParameterInput": {
            "description": "A bare string, integer (long), number (double) or boolean, or "
            'a typed object such as {"date": "2024-03-15"} or '
            '{"long": 3, "identifying": false}',
            "oneOf": [
                {"type": "string"},
                {"type": "integer"},
                {"type": "number", "not": {"type": "integer"}},
                {"type": "boolean"},
                typed_input,
            ],
        },
        "StartBody": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "parameters": {
                    "type": "object",
                    "additionalProperties": _ref("ParameterInput"),
                },
                "requestId": {
                    "type": "string",
                    "description": "Makes the call safe to retry: a second call with the same "
                    "id answers the first call's execution",
                },
                "priority": priority,
            },
        },
        "RecoverBody": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "force": {
                    "type": "boolean",
                    "description": "recover an execution no jobop node owns (a Spring Batch "
                    "application's), whose owner the caller knows is dead",
                }
            },
        },
        "RequestIdBody": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"requestId": {"type": "string"}, "priority": priority},
        },
        "SettingsBody": {
            "type": "object",
            "description": "The settings to change; null clears a run-time value (the "
            "declared one holds again)",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": settings_properties,
        },
        "PauseBody": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "stopRunning": {
                    "type": "boolean",
                    "description": "also stop the job's running executions",
                }
            },
        },
        "JobWorkload": {
            "type": "object",
            "description": "A job's settings in force, declared and set at run time, and "
            "its executions holding a slot and waiting",
            "required": list(workload_properties),
            "properties": workload_properties,
        },
        "PausedJob": {
            "type": "object",
            "required": [*workload_properties, "stoppedExecutionIds"],
            "properties": {
                **workload_properties,
                "stoppedExecutionIds": {"type": "array", "items": {"type": "integer"}},
            },
        },
        "JobWorkloads": {
            "type": "object",
            "required": ["jobs"],
            "properties": {"jobs": {"type": "array", "items": _ref("JobWorkload")}},
        },
        "Queue": {
            "type": "object",
            "required": ["executions", "total"],
            "properties": {
                "executions": {
                    "type": "array",
                    "description": "In run order",
                    "items": {
                        "type": "object",
                        "required": list(queued_properties),
                        "properties": queued_properties,
                    },
                },
                "total": {**count, "description": "waiting in all, beyond those listed too"},
            },
        },
        "StepExecution": {
            "type": "object",
            "required": list(step_properties),
            "properties": step_properties,
        },
        "JobExecution": {
            "type": "object",
            "required": list(execution_properties),
            "properties": execution_properties,
        },
        "JobInstance": {
            "type": "object",
            "required": ["id", "version", "jobName", "jobKey"],
            "properties": {
                "id": {"type": "integer"},
                "version": {"type": "integer"},
                "jobName": {"type": "string"},
                "jobKey": {"type": "string"},
            },
        },
        "Jobs": {
            "type": "object",
            "required": ["jobNames", "jobs"],
            "properties": {
                "jobNames": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "The jobs this server runs (registered here)",
                },
                "jobs": {
                    "type": "array",
                    "description": "The catalogue: registered jobs and those only the "
                    "repository knows",
                    "items": {
                        "type": "object",
                        "required": [*job["required"], "latestExecution"],
                        "properties": {
                            **job["properties"],
                            "latestExecution": {"oneOf": [_ref("JobExecution"), {"type": "null"}]},
                        },
                    },
                },
            },
        },
        "JobDescription": job,
        "ParameterDescription": {
            "type": "object",
            "required": [
                "name",
                "type",
                "identifying",
                "required",
                "defaultValue",
                "description",
            ],
            "properties": {
                "name": {"type": "string"},
                "type": {"enum": ["string", "long", "double", "date", "boolean"]},
                "identifying": {"type": "boolean"},
                "required": {"type": "boolean"},
                "defaultValue": {"oneOf": [_ref("Parameter"), {"type": "null"}]},
                "description": {"type": "string"},
            },
        },
        "ExecutionPage": {
            "type": "object",
            "required": ["executions", "nextPageToken"],
            "properties": {"executions": {"type": "array", "items": _ref("JobExecution")}, **page},
        },
        "InstancePage": {
            "type": "object",
            "required": ["jobInstances", "nextPageToken"],
            "properties": {"jobInstances": {"type": "array", "items": _ref("JobInstance")}, **page},
        },
        "ExecutionCount": {
            "type": "object",
            "required": ["count"],
            "properties": {"count": {"type": "integer", "minimum": 0}},
        },
        "ExecutionIds": {
            "type": "object",
            "required": ["executionIds"],
            "properties": {"executionIds": {"type": "array", "items": {"type": "integer"}}},
        },
        "Steps": {
            "type": "object",
            "required": ["stepExecutions"],
            "properties": {"stepExecutions": {"type": "array", "items": _ref("StepExecution")}},
        },
        "Summary": {
            "type": "object",
            "required": ["summary"],
            "properties": {"summary": {"type": "string"}},
        },
        "StepSummaries": {
            "type": "object",
            "required": ["summaries"],
            "properties": {
                "summaries": {
                    "type": "object",
                    "description": "step execution id -> Spring's StepExecution summary",
                    "additionalProperties": {"type": "string"},
                }
            },
        },
        "Contexts": {
            "type": "object",
            "required": ["jobExecutionContext", "stepExecutionContexts"],
            "properties": {
                "jobExecutionContext": {"type": "object"},
                "stepExecutionContexts": {
                    "type": "object",
                    "description": "step execution id -> its context",
                    "additionalProperties": {"type": "object"},
                },
                "truncated": {
                    "type": "boolean",
                    "description": "entries were left out: together the contexts exceed "
                    "limitBytes of JSON",
                },
                "contextBytes": {
                    "type": "integer",
                    "description": "when truncated: the JSON size of all the entries",
                },
                "limitBytes": {
                    "type": "integer",
                    "description": "when truncated: the most a context read returns",
                },
            },
        },
        "AuditEvents": {
            "type": "object",
            "required": ["events", "nextPageToken"],
            "properties": {
                "events": {"type": "array", "items": _ref("AuditEvent")},
                "nextPageToken": {"type": "string"},
            },
        },
        "AuditEvent": {
            "type": "object",
            "required": ["id", "time", "principal", "action", "arguments", "succeeded"],
            "properties": {
                "id": {"type": "integer"},
                "time": time,
                "principal": {"type": "string"},
                "role": {"type": ["string", "null"]},
                "action": {"type": "string"},
                "arguments": {
                    "type": "string",
                    "description": "the request as JSON, secrets masked",
                },
                "peer": {"type": "string"},
                "node": {"type": "string"},
                "succeeded": {"type": "boolean"},
                "reason": {"type": ["string", "null"]},
                "message": {"type": ["string", "null"]},
                "executionId": {"type": ["integer", "null"]},
                "jobName": {"type": ["string", "null"]},
            },
        },
        "Nodes": {
            "type": "object",
            "required": ["nodes"],
            "properties": {"nodes": {"type": "array", "items": _ref("Node")}},
        },
        "Node": {
            "type": "object",
            "required": [
                "nodeId",
                "host",
                "pid",
                "role",
                "version",
                "state",
                "started",
                "lastHeartbeat",
                "leaseSeconds",
                "lost",
                "lostBy",
                "left",
                "runningExecutions",
                "heartbeatAgeSeconds",
            ],
            "properties": {
                "nodeId": {"type": "string"},
                "host": {"type": "string"},
                "pid": {"type": "integer"},
                "role": {"type": "string"},
                "version": {"type": "string"},
                "state": {
                    "type": "string",
                    "enum": ["live", "expired", "lost", "left"],
                    "description": "expired: its lease ran out and no node has recovered it yet",
                },
                "started": {"type": "string", "format": "date-time"},
                "lastHeartbeat": {"type": "string", "format": "date-time"},
                "leaseSeconds": {"type": "number"},
                "lost": time,
                "lostBy": {"type": ["string", "null"], "description": "the node that recovered it"},
                "left": time,
                "runningExecutions": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "its executions STARTING, STARTED or STOPPING (claimed by it)",
                },
                "heartbeatAgeSeconds": {
                    "type": "number",
                    "minimum": 0,
                    "description": "seconds since its last heartbeat, by the database's clock",
                },
            },
        },
        "Parameters": {
            "type": "object",
            "required": ["parameters"],
            "properties": {
                "parameters": {"type": "object", "additionalProperties": _ref("Parameter")}
            },
        },
    }


def _listing_filters() -> list[dict[str, Any]]:
    """The filters of GET /api/executions and /api/executions/count (docs/api.md); the
    `param.NAME` parameters have names of the caller's choosing, so they are described
    there, not here."""

    def repeated(name: str, description: str, item: dict[str, Any]) -> dict[str, Any]:
        # Described as one value: repeated ones (up to 100) are for the docs to explain, and
        # the request line's 8 KB limit would cut a generated list of long ones short.
        text = f"{description} (repeat the parameter for more)"
        return {"name": name, "in": "query", "description": text, "schema": item}

    def moment(name: str, description: str) -> dict[str, Any]:
        schema = {"type": "string", "format": "date-time"}
        return {"name": name, "in": "query", "description": description, "schema": schema}

    statuses = ["COMPLETED", "STARTING", "STARTED", "STOPPING", "STOPPED", "FAILED"]
    statuses += ["ABANDONED", "UNKNOWN"]
    return [
        repeated("job", "Only these jobs' executions", {"type": "string", "maxLength": 100}),
        repeated("status", "Only these statuses", {"type": "string", "enum": statuses}),
        repeated(
            "exitCode",
            "Only these exit codes",
            {"type": "string", "minLength": 1, "maxLength": 100},
        ),
        moment("since", "Created at or after this time (RFC 3339, with its offset)"),
        moment("until", "Created before this time"),
        moment("startedSince", "Started at or after this time"),
        moment("startedUntil", "Started before this time"),
        moment("endedSince", "Ended at or after this time"),
        moment("endedUntil", "Ended before this time"),
        {
            "name": "node",
            "in": "query",
            "description": "Only the executions this node owns",
            "schema": {"type": "string", "minLength": 1, "maxLength": 40},
        },
        {
            "name": "overdue",
            "in": "query",
            "description": "true: only the overdue executions; false: only the others",
            "schema": {"type": "boolean"},
        },
    ]


def openapi_document() -> dict[str, Any]:
    running = {
        "name": "running",
        "in": "query",
        "description": "true: only the running executions (all of them, one page)",
        "schema": {"type": "boolean"},
    }
    after_version = {
        "name": "afterVersion",
        "in": "query",
        "description": "Skip snapshots up to this version (as the Last-Event-ID header does)",
        "schema": {"type": "integer", "minimum": 0},
    }
    job_filter = {
        "name": "job",
        "in": "query",
        "description": "Only this job's executions (default: all jobs)",
        "schema": {"type": "string", "maxLength": 100},
    }
    live = {
        "name": "live",
        "in": "query",
        "description": "true: leave out the nodes that were lost or left",
        "schema": {"type": "boolean"},
    }
    since = {
        "name": "since",
        "in": "query",
        "description": "Only events at or after this time (RFC 3339, with its offset)",
        "schema": {"type": "string", "format": "date-time"},
    }
    order = {
        "name": "order",
        "in": "query",
        "description": "newest (the default) or oldest first",
        "schema": {"type": "string", "enum": ["newest", "oldest"]},
    }
    execution = "/api/executions/{executionId}"
    paths = {
        "/api/jobs/{jobName}/start": _launch(
            "start", "Start a new job instance", [_JOB_NAME], "StartBody"
        ),
        "/api/jobs/{jobName}/next": _launch(
            "startNextInstance",
            "Start the job's next instance (its incrementer's parameters)",
            [_JOB_NAME],
            "RequestIdBody",
        ),
        f"{execution}/stop": _control("stop", "Stop a running execution"),
        f"{execution}/restart": _launch(
            "restart",
            "Restart a FAILED or STOPPED execution's instance",
            [_EXECUTION_ID],
            "RequestIdBody",
        ),
        f"{execution}/abandon": _control("abandon", "Abandon a stopped or failed execution"),
        f"{execution}/recover": _control(
            "recover", "Mark an execution whose process died FAILED (restartable)", "RecoverBody"
        ),
        "/api/jobs": _get(
            "getJobs", "The job catalogue, each with its latest execution", [], "Jobs"
        ),
        "/api/jobs/{jobName}": _get(
            "describeJob",
            "A job: description, declared parameters, steps, whether it runs here",
            [{**_JOB_NAME, "description": "A job's name (registered or in the repository)"}],
            "JobDescription",
        ),
        "/api/jobs/{jobName}/executions": _get(
            "listJobExecutions",
            "A job's executions, newest first",
            [_JOB_NAME, running, *_listing_filters()[1:], order, *_PAGE],
            "ExecutionPage",
        ),
        "/api/executions": _get(
            "listExecutions",
            "Executions of every job or some, filtered, newest first (or oldest first)",
            [*_listing_filters(), order, *_PAGE],
            "ExecutionPage",
        ),
        "/api/executions/count": _get(
            "countExecutions",
            "How many executions the filters select",
            _listing_filters(),
            "ExecutionCount",
        ),
        "/api/jobs/{jobName}/runningExecutions": _get(
            "getRunningExecutions", "Ids of a job's running executions", [_JOB_NAME], "ExecutionIds"
        ),
        "/api/jobs/{jobName}/instances": _get(
            "listJobInstances",
            "A job's instances, newest first",
            [_JOB_NAME, *_PAGE],
            "InstancePage",
        ),
        "/api/instances/{jobInstanceId}/executions": _get(
            "listInstanceExecutions",
            "An instance's executions, newest first",
            [_INSTANCE_ID, *_PAGE],
            "ExecutionPage",
        ),
        execution: _get(
            "getJobExecution", "An execution with its steps", [_EXECUTION_ID], "JobExecution"
        ),
        f"{execution}/steps": _get(
            "getStepExecutions", "An execution's step executions", [_EXECUTION_ID], "Steps"
        ),
        f"{execution}/summary": _get(
            "getSummary", "Spring's JobExecution summary", [_EXECUTION_ID], "Summary"
        ),
        f"{execution}/stepSummaries": _get(
            "getStepExecutionSummaries",
            "Spring's StepExecution summaries",
            [_EXECUTION_ID],
            "StepSummaries",
        ),
        f"{execution}/parameters": _get(
            "getParameters", "An execution's job parameters", [_EXECUTION_ID], "Parameters"
        ),
        f"{execution}/context": _get(
            "getExecutionContexts",
            "The job's and each step's execution context",
            [_EXECUTION_ID],
            "Contexts",
        ),
        f"{execution}/events": _sse(
            "watchExecution",
            "Follow one execution until it ends (Last-Event-ID resumes)",
            [_EXECUTION_ID, after_version],
        ),
        "/api/events": _sse(
            "watchExecutions", "Follow the running executions of all jobs or one", [job_filter]
        ),
        "/healthz": _probe("healthz", "Liveness: 200 while the process serves", live_only=True),
        "/readyz": _probe(
            "readyz", "Readiness: 200 when serving, 503 while the database is away or at shutdown"
        ),
        "/api/nodes": _get("listNodes", "The cluster's nodes, newest first", [live], "Nodes"),
        "/api/jobs/{jobName}/settings": {
            **_get(
                "getJobSettings",
                "A job's settings (in force, declared, run-time) and its slots",
                [_JOB_NAME_ANY],
                "JobWorkload",
            ),
            "put": _operation(
                "updateJobSettings",
                "Set or clear (null) run-time settings of a job (admin role)",
                [_JOB_NAME_ANY],
                {
                    "200": _json(_ref("JobWorkload"), "The job's settings after the change"),
                    **_errors("400", "403", "404", "415", "503"),
                },
                body="SettingsBody",
            ),
        },
        "/api/jobs/{jobName}/pause": _job_action(
            "pauseJob",
            "Hold the job's new and waiting starts (operator role)",
            "PausedJob",
            "PauseBody",
        ),
        "/api/jobs/{jobName}/resume": _job_action(
            "resumeJob", "Let a paused job's starts run (operator role)", "JobWorkload"
        ),
        "/api/settings": _get(
            "listJobSettings",
            "Settings of the jobs named by job, or of every job that has settings",
            [{**job_filter, "description": "A job (repeatable); none: every job"}],
            "JobWorkloads",
        ),
        "/api/queue": _get(
            "listQueue",
            "The starts waiting for a claim, in run order, each with why it waits",
            [
                {**job_filter, "description": "Only this job's waiting starts"},
                {**_PAGE[0], "description": "At most this many (default 100, at most 1000)"},
            ],
            "Queue",
        ),
        "/api/audit": _get(
            "listAuditEvents",
            "The audit trail of control actions, newest first (operator role)",
            [job_filter, since, *_PAGE],
            "AuditEvents",
        ),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "jobop REST API",
            "version": version("jobop"),
            "description": "The JobOperatorService over HTTP and JSON: the same validation, "
            "error reasons and streams as the gRPC API.",
        },
        "paths": {**paths, **_schedule_paths()},
        "components": {
            "schemas": {**_schemas(), **_schedule_schemas()},
            "responses": {
                f"Error{code}": _json(_ref("Error"), description)
                for code, description in _ERROR_CODES.items()
            },
        },
    }


# -- schedules (web/schedules.py, docs/schedules.md) ---------------------------------------

_SCHEDULE_NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "A schedule's name",
    "schema": {"type": "string", "minLength": 1, "maxLength": 100},
    "example": "nightly",
}
_SCHEDULE_WRITE_ERRORS = ("400", "403", "404", "409", "412", "415", "503")


def _schedule_schemas() -> dict[str, Any]:
    time = {"type": ["string", "null"], "format": "date-time"}
    fire_time = {
        "type": "string",
        "format": "date-time",
        "description": "RFC 3339 with the offset of the schedule's time zone",
    }
    fields: dict[str, Any] = {
        "name": {"type": "string"},
        "jobName": {"type": "string"},
        "cron": {"type": "string", "description": "six fields (seconds first), five, or a macro"},
        "timeZone": {"type": "string", "description": "an IANA zone; default UTC"},
        "parameters": {"type": "object", "additionalProperties": _ref("ParameterInput")},
        "overlap": {"type": "string", "enum": ["skip", "queue", "allow"]},
        "catchUp": {"type": "string", "enum": ["none", "latest", "all"]},
        "maxCatchUp": {"type": "integer"},
        "paused": {"type": "boolean"},
        "description": {"type": "string"},
    }
    body = {
        name: {**schema, "type": [schema["type"], "null"]} if name != "name" else schema
        for name, schema in fields.items()
        if "type" in schema
    }
    fire = {
        "type": "object",
        "required": ["scheduleName", "fireTime", "outcome", "executionId", "reason", "triggered"],
        "properties": {
            "scheduleName": {"type": "string"},
            "fireTime": fire_time,
            "outcome": {
                "type": "string",
                "enum": ["PENDING", "LAUNCHED", "SKIPPED", "MISSED", "REFUSED"],
            },
            "executionId": {"type": ["integer", "null"]},
            "reason": {"type": "string"},
            "recorded": time,
            "nodeId": {"type": ["string", "null"]},
            "triggered": {"type": "boolean"},
        },
    }
    answer_fields = {
        **fields,
        "parameters": {"type": "object", "additionalProperties": _ref("Parameter")},
    }
    schedule = {
        "type": "object",
        "required": [*fields, "nextFireTimes", "lastFire"],
        "properties": {
            **answer_fields,
            "nextFireTimes": {"type": "array", "items": fire_time, "maxItems": 5},
            "lastFire": {"oneOf": [{"type": "null"}, _ref("ScheduleFire")]},
            "created": time,
            "updated": time,
            "updatedBy": {"type": "string"},
        },
    }
    return {
        "ScheduleBody": {
            "type": "object",
            "additionalProperties": False,
            "description": "A schedule as requests take it; in PUT, the fields to change "
            "(null: back to the default)",
            "properties": body,
        },
        "Schedule": schedule,
        "ScheduleFire": fire,
        "Schedules": {
            "type": "object",
            "required": ["schedules"],
            "properties": {"schedules": {"type": "array", "items": _ref("Schedule")}},
        },
        "ScheduleFirePage": {
            "type": "object",
            "required": ["fires", "nextPageToken"],
            "properties": {
                "fires": {"type": "array", "items": _ref("ScheduleFire")},
                "nextPageToken": {"type": "string"},
            },
        },
        "FireTimes": {
            "type": "object",
            "required": ["fireTimes"],
            "properties": {"fireTimes": {"type": "array", "items": fire_time}},
        },
    }


def _schedule_paths() -> dict[str, Any]:
    one = "/api/schedules/{name}"

    def write(
        operation_id: str, summary: str, status: str, answer: dict[str, Any], **kw: Any
    ) -> dict[str, Any]:
        responses = {status: answer, **_errors(*_SCHEDULE_WRITE_ERRORS)}
        params = kw.pop("params", [_SCHEDULE_NAME])
        return _operation(operation_id, summary, params, responses, **kw)

    schedule = _json(_ref("Schedule"), "The schedule")
    created = _json(_ref("Schedule"), "The new schedule")
    created["headers"] = {
        "Location": {"description": "/api/schedules/{name}", "schema": {"type": "string"}}
    }
    # Where the new name goes (for clients, and schemathesis' stateful phase).
    created["links"] = {
        name: {"operationId": name, "parameters": {"name": "$response.body#/name"}}
        for name in (
            "getSchedule",
            "updateSchedule",
            "deleteSchedule",
            "pauseSchedule",
            "resumeSchedule",
            "triggerSchedule",
            "listScheduleFires",
        )
    }
    preview = [
        {
            "name": "cron",
            "in": "query",
            "required": True,
            "description": "The cron expression",
            "schema": {"type": "string"},
            "example": "0 30 2 * * *",
        },
        {
            "name": "timeZone",
            "in": "query",
            "description": "An IANA zone (default UTC)",
            "schema": {"type": "string"},
        },
        {
            "name": "from",
            "in": "query",
            "description": "After this time (RFC 3339; default now)",
            "schema": {"type": "string", "format": "date-time"},
        },
        {
            "name": "count",
            "in": "query",
            "description": "How many (default 5, at most 100)",
            "schema": {"type": "integer", "minimum": 0, "maximum": 100},
        },
    ]
    return {
        "/api/schedules": {
            "get": _operation(
                "listSchedules",
                "Every schedule, by name",
                [],
                {"200": _json(_ref("Schedules"), "The schedules"), **_errors("403", "503")},
            ),
            "post": write(
                "createSchedule",
                "Create a schedule",
                "201",
                created,
                params=[],
                body="ScheduleBody",
            ),
        },
        "/api/schedules/preview": _get(
            "previewSchedule",
            "The next fire times of a cron expression; stores nothing",
            preview,
            "FireTimes",
        ),
        one: {
            **_get("getSchedule", "A schedule with its next fires", [_SCHEDULE_NAME], "Schedule"),
            "put": write(
                "updateSchedule", "Change a schedule's fields", "200", schedule, body="ScheduleBody"
            ),
            "delete": write(
                "deleteSchedule", "Delete a schedule", "204", {"description": "Deleted"}
            ),
        },
        f"{one}/pause": {
            "post": write("pauseSchedule", "Pause a schedule", "200", schedule, body="Empty")
        },
        f"{one}/resume": {
            "post": write("resumeSchedule", "Resume a schedule", "200", schedule, body="Empty")
        },
        f"{one}/trigger": {
            "post": write(
                "triggerSchedule",
                "Fire a schedule now, as an extra fire",
                "200",
                _json(_ref("ScheduleFire"), "The extra fire"),
                body="Empty",
            )
        },
        f"{one}/fires": _get(
            "listScheduleFires",
            "A schedule's recorded fires, newest first",
            [_SCHEDULE_NAME, *_PAGE],
            "ScheduleFirePage",
        ),
    }
