"""Lium through tool_specs/lium.yaml: find a machine, rent a pod, watch it, delete it."""

from __future__ import annotations

import uuid

import pytest

from tests.gateways.harness import assert_key_refused, assert_secret_absent, data, serve_profile, standin_fixture, text
from tests.gateways.lium import A4000, Lium

pytestmark = pytest.mark.anyio

KEY = "sk_lium_test_5f1e0c9a7b"
TOOLS = {
    "lium_get_account", "lium_list_executors", "lium_estimate_deployment", "lium_rent_pod", "lium_rent_pod_by_spec",
    "lium_list_machines", "lium_list_pods", "lium_get_pod", "lium_delete_pod", "lium_get_pod_logs",
    "lium_list_pod_events", "lium_reboot_pod", "lium_switch_pod_template", "lium_schedule_pod_removal",
    "lium_cancel_pod_removal", "lium_install_jupyter", "lium_list_templates", "lium_create_template",
    "lium_list_ssh_keys", "lium_add_ssh_key", "lium_list_volumes", "lium_create_volume", "lium_get_volume",
    "lium_update_volume", "lium_delete_volume",
}


META = {"search_operations", "describe_operations", "call_operation"}

lium = standin_fixture(lambda: Lium(KEY))


async def test_the_rest_of_the_api_is_found_by_search(lium, tmp_path):
    async with serve_profile("lium.yaml", lium, tmp_path, LIUM_API_KEY=KEY) as served:
        backups = data(await served.call("search_operations", {"query": "back up a pod"}))
        workspaces = data(await served.call("search_operations", {"query": "invite someone to my workspace"}))
    assert "lium_backup_pod" in [hit["name"] for hit in backups["results"][:3]]
    assert workspaces["results"][0]["name"] == "lium_invite_workspace_member"
    assert lium.requests == []  # searching is local


async def test_rent_watch_and_delete_a_pod(lium, tmp_path):
    async with serve_profile("lium.yaml", lium, tmp_path, LIUM_API_KEY=KEY) as served:
        listed = await served.client.list_tools()
        assert {tool.name for tool in listed.tools} == TOOLS | META  # the rest of the API through search
        assert "using the bundled copy" in served.log()

        templates = data(await served.call("lium_list_templates"))
        pytorch = next(t for t in templates if t["docker_image"] == "pytorch/pytorch")
        executors = data(await served.call("lium_list_executors", {"machine_names": A4000, "gpu_count_gte": 1}))
        assert [e["machine_name"] for e in executors] == [A4000]
        assert lium.last.query == [("machine_names", A4000), ("gpu_count_gte", "1")]

        rented = await served.call("lium_rent_pod", {
            "executor_id": executors[0]["id"], "pod_name": "trainer", "template_id": pytorch["id"],
            "user_public_key": ["ssh-ed25519 AAAAC3Nza me@laptop"]})
        pod = data(rented)  # renting is a job: the call waited until the pod was RUNNING
        assert rented.structured_content == pod
        assert pod["status"] == "RUNNING" and pod["pod_name"] == "trainer"
        assert "finished (RUNNING) after 1 poll." in text(rented)
        sent, poll = lium.requests[-2:]
        assert (poll.method, poll.raw_path) == ("GET", f"/pods/{pod['id']}")
        assert sent.method == "POST" and sent.raw_path == f"/executors/{executors[0]['id']}/rent"
        assert sent.headers["x-api-key"] == KEY
        assert sent.json() == {"pod_name": "trainer", "template_id": pytorch["id"],
                               "user_public_key": ["ssh-ed25519 AAAAC3Nza me@laptop"]}
        assert uuid.UUID(sent.headers["idempotency-key"]).version == 4

        pods = data(await served.call("lium_list_pods"))
        assert [p["id"] for p in pods] == [pod["id"]]
        ready = data(await served.call("lium_get_pod", {"pod_id": pod["id"]}))
        assert ready["status"] == "RUNNING"
        assert ready["ssh_connect_cmd"] == "ssh root@203.0.113.7 -p 40022"
        logs = await served.call("lium_get_pod_logs", {"pod_id": pod["id"], "tail": 2})
        assert text(logs) == "line 4: container started\nline 5: container started\n"

        deleted = await served.call("lium_delete_pod", {"pod_id": pod["id"]})
        assert data(deleted) == {"message": "Pod trainer deleted", "success": True}
        assert lium.last.method == "DELETE" and lium.last.raw_path == f"/pods/{pod['id']}"
        assert data(await served.call("lium_list_pods")) == []
        assert lium.pods == {}

        gone = await served.call("lium_get_pod", {"pod_id": pod["id"]})
        assert gone.is_error
        assert "HTTP 404" in text(gone) and "Pod not found" in text(gone)
        assert_secret_absent(KEY, gone, served)


async def test_a_retried_rent_with_the_same_key_rents_once(lium, tmp_path):
    executor = next(e for e in lium.executors.values() if e["machine_name"] == A4000)
    template = lium.templates[0]
    rent = {"executor_id": executor["id"], "pod_name": "once", "template_id": template["id"]}
    async with serve_profile("lium.yaml", lium, tmp_path, LIUM_API_KEY=KEY) as served:
        first = data(await served.call("lium_rent_pod", {**rent, "Idempotency-Key": "rent-once-1"}))
        again = data(await served.call("lium_rent_pod", {**rent, "Idempotency-Key": "rent-once-1"}))
        assert again["id"] == first["id"]
        assert len(lium.pods) == 1
        assert [r.headers["idempotency-key"] for r in lium.received("POST", f"/executors/{executor['id']}/rent")] \
            == ["rent-once-1", "rent-once-1"]

        taken = await served.call("lium_rent_pod", rent)  # a new key: a second rental of a rented machine
        assert taken.is_error
        assert "HTTP 400" in text(taken) and "Executor is not available for rent" in text(taken)
        assert len(lium.pods) == 1

        invalid = await served.call("lium_rent_pod", {"executor_id": executor["id"]})
        assert invalid.is_error and "pod_name" in text(invalid)
        assert len(lium.requests) == 4  # two rents, one poll: the invalid call never left the gateway


@pytest.mark.parametrize("key", [None, "sk_lium_wrong_0000"], ids=["missing", "wrong"])
async def test_a_missing_or_wrong_key_says_which_variable_to_set(lium, tmp_path, key):
    await assert_key_refused("lium.yaml", lium, tmp_path, "LIUM_API_KEY", key, "lium_list_pods")
    if key is not None:
        assert lium.last.headers["x-api-key"] == key
