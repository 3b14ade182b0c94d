"""deploy/: the Kubernetes manifests validate strictly (kubernetes-validate), the Dockerfile
passes hadolint, the compose file has its shape, and the image's install steps
(deploy/install.sh) give a working `jobop serve` in a fresh virtual environment (there is
no Docker engine here)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
BIN = Path(sys.executable).parent
# The oldest Kubernetes the manifests are for: native gRPC probes are GA since 1.27.
KUBERNETES_VERSION = "1.30.0"


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _resources() -> dict[str, dict[str, Any]]:
    """kind/name -> resource, from the files the kustomization lists."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    found = {}
    for name in kustomization["resources"]:
        for doc in _documents(K8S / name):
            found[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return found


def test_kubernetes_manifests_validate_strictly() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(kustomization["resources"]) == files  # nothing left out of the apply
    command = [str(BIN / "kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION]
    result = subprocess.run(
        [*command, *(str(K8S / name) for name in files)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed for resource") == 7, result.stdout
    # And strict means strict: an unknown field fails.
    broken = (K8S / "pdb.yaml").read_text().replace("minAvailable: 2", "minAvailable: 2\n  x: 1")
    rejected = subprocess.run(
        [*command, "/dev/stdin"], input=broken, capture_output=True, text=True, check=False
    )
    assert rejected.returncode != 0, rejected.stdout


def test_manifests_say_what_a_mesh_needs() -> None:
    resources = _resources()
    deployment = resources["Deployment/jobop"]["spec"]
    assert deployment["replicas"] == 3
    pod = deployment["template"]["spec"]
    (container,) = pod["containers"]
    config = resources["ConfigMap/jobop"]["data"]
    assert pod["terminationGracePeriodSeconds"] > float(config["JOBOP_STOP_GRACE"])
    assert container["readinessProbe"]["grpc"] == {
        "port": 50051,
        "service": "jobop.v1.JobOperatorService",
    }
    assert container["livenessProbe"]["grpc"]["port"] == 50051
    assert set(container["resources"]) == {"requests", "limits"}
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    sources = {next(iter(s)): next(iter(s.values()))["name"] for s in container["envFrom"]}
    assert sources == {"configMapRef": "jobop", "secretRef": "jobop-db"}
    assert "JOBOP_DB_URL" in resources["Secret/jobop-db"]["stringData"]
    assert "JOBOP_DB_URL" not in config
    protocols = {
        port["appProtocol"]
        for name in ("Service/jobop-grpc", "Service/jobop-http")
        for port in resources[name]["spec"]["ports"]
    }
    assert protocols == {"grpc", "http"}
    assert resources["PodDisruptionBudget/jobop"]["spec"]["minAvailable"] == 2
    job = resources["Job/jobop-db-init"]["spec"]["template"]["spec"]["containers"][0]
    assert job["args"] == ["db", "init"]


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [str(BIN / "hadolint"), str(DEPLOY / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = (DEPLOY / "Dockerfile").read_text()
    assert text.count("FROM ") == 2 and "USER 10001" in text  # multi-stage, non-root


def test_compose_runs_two_replicas_and_postgresql() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "db-init", "jobop-a", "jobop-b"}
    for name in ("jobop-a", "jobop-b"):
        service = services[name]
        assert service["read_only"] is True and service["command"] == ["serve"]
        assert "postgresql+psycopg://" in service["environment"]["JOBOP_DB_URL"]
        assert service["depends_on"]["db-init"]["condition"] == "service_completed_successfully"
    assert services["db-init"]["command"] == ["db", "init"]


@pytest.mark.slow
def test_image_install_steps_give_a_working_server(tmp_path: Path) -> None:
    install = DEPLOY / "install.sh"
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    env.pop("PYTHONPATH", None)
    for step in (
        ["wheels", str(ROOT), str(tmp_path / "wheels")],
        ["venv", str(tmp_path / "wheels"), str(tmp_path / "venv")],
    ):
        done = subprocess.run(
            ["sh", str(install), *step], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
    venv = tmp_path / "venv"
    located = subprocess.run(
        [str(venv / "bin/python"), "-c", "import jobop.web, sys; print(jobop.web.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert located.stdout.startswith(str(venv))  # installed from the wheel, not the tree
    work = tmp_path / "work"
    work.mkdir()
    server = subprocess.Popen(
        [str(venv / "bin/jobop"), "serve", "--grpc-address", "127.0.0.1:0"],
        env={**env, "JOBOP_HTTP_ADDRESS": "127.0.0.1:0", "JOBOP_LOG_FORMAT": "json"},
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        assert "listening on" in server.stdout.readline()
        http = server.stdout.readline().strip().rsplit(" ", 1)[-1]
        for path, expected in (
            ("/api/jobs", b"demoChunkJob"),
            ("/", b"<title>jobop</title>"),
            ("/static/app.js", b"EventSource"),
            ("/metrics", b"jobop_job_launch"),
        ):
            with urllib.request.urlopen(f"http://{http}{path}", timeout=10) as response:
                assert expected in response.read(), path
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(60) == 0
