"""A stand-in for the Lium renter API (https://lium.io/api), as tool_specs/specs/lium.io.openapi.yaml describes it.

Auth is the `X-API-Key` header (any case); errors are FastAPI's {"detail": "..."} and, on 422,
{"detail": [{"loc", "msg", "type"}]}. Renting is idempotent per `Idempotency-Key`: a repeat returns the
pod the first request made. A new pod is PENDING when rented and RUNNING once read back.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.gateways.standin import Reply, StandIn, json_reply, text_reply
from tests.upstream import Recorded

H100 = "NVIDIA H100 80GB HBM3"
A4000 = "NVIDIA RTX A4000"


def _executor(executor_id: str, machine: str, gpus: int, price: float, country: str) -> dict[str, Any]:
    return {
        "id": executor_id, "machine_name": machine, "executor_ip_address": "203.0.113.7",
        "price_per_gpu": price, "available_gpu_count": gpus, "location": {"country_code": country},
        "specs": {"gpu": {"count": gpus, "details": [{"name": machine, "capacity": 81559}] * gpus},
                  "cpu": {"count": 32}, "ram": {"total": 263_000_000},
                  "hard_disk": {"free": 900_000_000, "total": 1_000_000_000},
                  "sysbox_runtime": True, "available_port_count": 10},
        "status": "available", "effective_upload_speed_mbps": 900.0, "effective_download_speed_mbps": 950.0,
        "max_cuda_version": "12.4", "tier": "gold",
    }


class Lium(StandIn):
    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key
        self.executors = {
            e["id"]: e for e in (
                _executor("0b1e8d2c-6f3a-4c55-9a57-2f6c3d9e1a01", H100, 8, 2.19, "US"),
                _executor("7c2d9f40-1b8e-4e0a-8d3c-5a4b6c7d8e02", A4000, 1, 0.19, "DE"),
            )
        }
        self.templates = [
            {"id": "5f3c2a10-8d7e-4b6a-9c1d-0e2f3a4b5c01", "name": "PyTorch 2.3 (CUDA 12.1)",
             "docker_image": "pytorch/pytorch", "docker_image_tag": "2.3.0-cuda12.1-cudnn8-runtime",
             "category": "PYTORCH", "status": "VERIFY_SUCCESS", "internal_ports": [22, 8888], "user_id": None},
            {"id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c02", "name": "Ubuntu 22.04", "docker_image": "ubuntu",
             "docker_image_tag": "22.04", "category": "UBUNTU", "status": "VERIFY_SUCCESS", "internal_ports": [22],
             "user_id": None},
        ]
        self.pods: dict[str, dict[str, Any]] = {}
        self.rentals: dict[str, str] = {}  # Idempotency-Key -> pod id
        self.route("GET", "/users/me", self.me)
        self.route("GET", "/executors", self.list_executors)
        self.route("GET", "/machines", self.machines)
        self.route("GET", "/templates", lambda r, p: json_reply(self.templates))
        self.route("POST", "/executors/{executor_id}/rent", self.rent)
        self.route("GET", "/pods", lambda r, p: json_reply([self.read(pod) for pod in self.pods.values()]))
        self.route("GET", "/pods/{pod_id}", self.get_pod)
        self.route("DELETE", "/pods/{pod_id}", self.delete_pod)
        self.route("GET", "/pods/{pod_id}/logs", self.logs)

    def authenticate(self, request: Recorded) -> Reply | None:
        key = request.headers.get("x-api-key")
        if not key:
            return self.error(401, "Not authenticated")
        if key != self.key:
            return self.error(401, "Invalid API key")
        return None

    def error(self, status: int, message: str, kind: str = "", code: str | int | None = None,
              headers: dict[str, str] | None = None) -> Reply:
        return json_reply({"detail": message}, status, headers)

    @staticmethod
    def invalid(field: str, message: str, kind: str) -> Reply:
        return json_reply({"detail": [{"loc": ["body", field], "msg": message, "type": kind}]}, 422)

    # -- routes ----------------------------------------------------------------------------------
    def me(self, request: Recorded, _: dict[str, str]) -> Reply:
        return json_reply({"id": "u_42", "balance": 125.5, "stripe_customer_id": None,
                           "workspace": {"id": "ws_1", "name": "Personal", "role": "owner", "is_personal": True}})

    def list_executors(self, request: Recorded, _: dict[str, str]) -> Reply:
        query = dict(request.query)
        found = list(self.executors.values())
        if "machine_names" in query:
            wanted = {name.strip() for name in query["machine_names"].split(",")}
            found = [e for e in found if e["machine_name"] in wanted]
        if "gpu_count_gte" in query:
            found = [e for e in found if e["available_gpu_count"] >= int(query["gpu_count_gte"])]
        return json_reply(found)

    def machines(self, request: Recorded, _: dict[str, str]) -> Reply:
        return json_reply([{"name": name} for name in sorted({e["machine_name"] for e in self.executors.values()})])

    def rent(self, request: Recorded, params: dict[str, str]) -> Reply:
        try:
            body = request.json()
        except ValueError:
            return self.invalid("body", "JSON decode error", "json_invalid")
        if not isinstance(body, dict) or not isinstance(body.get("pod_name"), str):
            return self.invalid("pod_name", "Field required", "missing")
        key = request.headers.get("idempotency-key")
        if key and key in self.rentals:
            return json_reply(self.pods[self.rentals[key]])
        executor = self.executors.get(params["executor_id"])
        if executor is None:
            return self.error(404, "Executor not found")
        if executor["status"] != "available":
            return self.error(400, "Executor is not available for rent")
        template = next((t for t in self.templates if t["id"] == body.get("template_id")), None)
        if template is None and not body.get("dockerfile_content"):
            return self.error(400, "Give template_id or dockerfile_content")
        pod_id = str(uuid.uuid4())
        executor["status"] = "rented"
        self.pods[pod_id] = {
            "id": pod_id, "pod_name": body["pod_name"], "status": "PENDING",
            "ssh_connect_cmd": f"ssh root@{executor['executor_ip_address']} -p 40022",
            "ports_mapping": {"22": 40022}, "gpu_count": str(executor["available_gpu_count"]),
            "price": round(executor["price_per_gpu"] * executor["available_gpu_count"], 2),
            "executor": executor, "template": template, "created_at": "2026-07-01T12:00:00Z",
            "user_public_key": body.get("user_public_key") or [],
        }
        if key:
            self.rentals[key] = pod_id
        return json_reply(self.pods[pod_id])

    def read(self, pod: dict[str, Any]) -> dict[str, Any]:
        pod["status"] = "RUNNING"  # deployed by the time anyone looks
        return pod

    def get_pod(self, request: Recorded, params: dict[str, str]) -> Reply:
        pod = self.pods.get(params["pod_id"])
        return json_reply(self.read(pod)) if pod else self.error(404, "Pod not found")

    def delete_pod(self, request: Recorded, params: dict[str, str]) -> Reply:
        pod = self.pods.pop(params["pod_id"], None)
        if pod is None:
            return self.error(404, "Pod not found")
        pod["executor"]["status"] = "available"
        return json_reply({"message": f"Pod {pod['pod_name']} deleted", "success": True})

    def logs(self, request: Recorded, params: dict[str, str]) -> Reply:
        if params["pod_id"] not in self.pods:
            return self.error(404, "Pod not found")
        tail = int(dict(request.query).get("tail", "100"))
        lines = [f"line {n}: container started" for n in range(1, 6)]
        return text_reply("\n".join(lines[-tail:]) + "\n")
