"""A stand-in for AIgateway (https://api.aigateway.sh), as its OpenAPI document describes it.

Auth is `Authorization: Bearer sk-aig-...`; errors are {"error": {"message", "type", "code"}} with an
integer code. POST /v1/videos/generations and /v1/audio/music answer 202 with a job record and remember
the request's Idempotency-Key (a repeat returns the same job); GET /v1/jobs/{id} advances the job one
step per poll: queued -> running -> completed (with result URLs).
"""

from __future__ import annotations

import json
from typing import Any

from tests.gateways.openai_compat import CREATED, OpenAICompatible
from tests.gateways.standin import Reply, json_reply
from tests.upstream import Recorded

ROUTED = "deepseek/deepseek-v3"


class AIgateway(OpenAICompatible):
    def __init__(self, key: str) -> None:
        models = [
            {"id": "anthropic/claude-opus-4.8", "object": "model", "owned_by": "anthropic", "modality": "text",
             "context_window": 200000, "pricing": {"input_per_mtok": 15.0, "output_per_mtok": 75.0}},
            {"id": ROUTED, "object": "model", "owned_by": "deepseek", "modality": "text",
             "context_window": 128000, "pricing": {"input_per_mtok": 0.27, "output_per_mtok": 1.1}},
            {"id": "google/veo-3", "object": "model", "owned_by": "google", "modality": "video"},
            {"id": "minimax/music-1.5", "object": "model", "owned_by": "minimax", "modality": "music"},
            {"id": "openai/text-embedding-3-small", "object": "model", "owned_by": "openai", "modality": "embedding"},
        ]
        super().__init__(key, models, name="aigateway")
        self._routes.clear()
        self.jobs: dict[str, dict[str, Any]] = {}
        self.job_keys: dict[str, str] = {}  # Idempotency-Key -> job id
        self.route("GET", "/v1/models", self.list_models)
        self.route("POST", "/v1/chat/completions", self.routed_chat)
        self.route("POST", "/v1/videos/generations", lambda r, p: self.create_job(r, "video"))
        self.route("POST", "/v1/audio/music", lambda r, p: self.create_job(r, "music"))
        self.route("POST", "/v1/3d/generations", lambda r, p: self.create_job(r, "3d"))
        self.route("POST", "/v1/embeddings", self.embeddings)
        self.route("GET", "/v1/jobs/{id}", self.get_job)
        self.route("DELETE", "/v1/jobs/{id}", self.cancel_job)
        self.route("GET", "/v1/usage/by-tag", self.usage_by_tag)
        self.route("GET", "/v1/balance", lambda r, p: json_reply({"balance_cents": 4200, "currency": "usd",
                                                                  "spent_this_month_cents": 318}))

    def error(self, status: int, message: str, kind: str = "invalid_request_error",
              code: str | int | None = None, headers: dict[str, str] | None = None) -> Reply:
        return json_reply({"error": {"message": message, "type": kind, "code": status}}, status, headers)

    def routed_chat(self, request: Recorded, params: dict[str, str]) -> Reply:
        """Chat completions, with the Auto Router: "auto" (or no model) runs on a cheaper model."""
        body = self.body(request)
        if isinstance(body, Reply):
            return body
        if body.get("model") in (None, "auto", "auto/text"):
            rewritten = Recorded(request.method, request.raw_path, request.query, request.raw_query,
                                 request.headers, _with_model(request.body, ROUTED))
            reply = self.chat(rewritten, params)
            reply.headers.update({"X-Auto-Routed": "true", "X-Routing-Selected": ROUTED,
                                  "X-Routing-Reason": "cheapest model above the quality floor",
                                  "X-Auto-Savings-Cents": "3"})
            return reply
        return self.chat(request, params)

    def create_job(self, request: Recorded, kind: str) -> Reply:
        body = self.body(request)
        if isinstance(body, Reply):
            return body
        if not isinstance(body.get("prompt"), str) or not body["prompt"]:
            return self.error(400, "prompt is required")
        key = request.headers.get("idempotency-key")
        if key and key in self.job_keys:
            return json_reply(self.jobs[self.job_keys[key]], 202)
        job_id = f"job_{kind}_{len(self.jobs) + 1:04d}"
        self.jobs[job_id] = {"id": job_id, "object": "job", "type": kind, "status": "queued", "progress": 0,
                             "model": body.get("model") or f"auto/{kind}", "prompt": body["prompt"],
                             "created_at": CREATED, "result": None}
        if key:
            self.job_keys[key] = job_id
        return json_reply(self.jobs[job_id], 202)

    def get_job(self, request: Recorded, params: dict[str, str]) -> Reply:
        job = self.jobs.get(params["id"])
        if job is None:
            return self.error(404, f"No job {params['id']}", "not_found_error")
        if job["status"] == "queued":
            job.update(status="running", progress=50)
        elif job["status"] == "running":
            extension = "mp4" if job["type"] == "video" else "mp3"
            job.update(status="completed", progress=100, result={
                "urls": [f"https://media.aigateway.sh/v1/files/jobs/{job['id']}/output.{extension}"]})
        return json_reply(job)

    def cancel_job(self, request: Recorded, params: dict[str, str]) -> Reply:
        job = self.jobs.get(params["id"])
        if job is None:
            return self.error(404, f"No job {params['id']}", "not_found_error")
        if job["status"] == "queued":
            job["status"] = "cancelled"
        return json_reply(job)

    def usage_by_tag(self, request: Recorded, params: dict[str, str]) -> Reply:
        month = dict(request.query).get("month", "2026-07")
        return json_reply({"month": month, "currency": "usd",
                           "tags": [{"tag": "research", "requests": 12, "cost_cents": 41},
                                    {"tag": "(untagged)", "requests": 3, "cost_cents": 7}]})


def _with_model(raw: bytes, model: str) -> bytes:
    data = json.loads(raw)
    data["model"] = model
    return json.dumps(data).encode()
