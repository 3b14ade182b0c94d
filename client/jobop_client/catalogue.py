"""The job catalogue (DescribeJobs) as JSON: the shape of REST's `GET /api/jobs/{name}`,
which `jobctl describe --json` prints too, written once here for both.

A parameter's value is in REST's typed form, `{"long": 6, "identifying": true}`, which
start requests accept as it is.
"""

from __future__ import annotations

from typing import Any

from jobop_client import jsonform
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb


def parameter_type_name(kind: pb.ParameterType.ValueType) -> str:
    """`long` for PARAMETER_TYPE_LONG, as the text form and REST spell types."""
    return pb.ParameterType.Name(kind).removeprefix("PARAMETER_TYPE_").lower()


def parameter_description_to_dict(parameter: pb.ParameterDescription) -> dict[str, Any]:
    default = None
    if parameter.HasField("default_value"):
        default = jsonform.parameter_json(parameter.default_value)
    return {
        "name": parameter.name,
        "type": parameter_type_name(parameter.type),
        "identifying": parameter.identifying,
        "required": parameter.required,
        "defaultValue": default,
        "description": parameter.description,
    }


def job_description_to_dict(job: pb.JobDescription) -> dict[str, Any]:
    return {
        "name": job.job_name,
        "description": job.description,
        "registered": job.registered,
        "parameters": [parameter_description_to_dict(p) for p in job.parameters],
        "allowUndeclaredParameters": job.allow_undeclared_parameters,
        "restartable": job.restartable,
        "incrementer": job.incrementer,
        "steps": [{"name": step.name, "kind": step.kind} for step in job.steps],
    }
