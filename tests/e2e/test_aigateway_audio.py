"""AIgateway's audio routes through tool_specs/aigateway.yaml: speech back as MCP audio content, transcription as a
multipart upload (sync, and async as a job record), and the utility routes the document leaves undescribed."""

from __future__ import annotations

import base64
import io
import json
import uuid
import wave
from typing import Any

import pytest
from mcp_types import AudioContent

from tests.gateways.aigateway import AIgateway
from tests.gateways.harness import data, serve_profile, standin_fixture, text
from tests.gateways.standin import Reply, json_reply
from tests.servers import Part, multipart_parts
from tests.upstream import Recorded

pytestmark = pytest.mark.anyio

KEY = "sk-aig-test-5f1e9a7c33"
SPEECH_TYPES = {"mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac", "flac": "audio/flac", "wav": "audio/wav",
                "pcm": "audio/pcm"}


def speech_bytes(text_spoken: str, audio_format: str) -> bytes:
    """What the stand-in "synthesises": bytes no text decoding would survive, different for each input."""
    return b"ID3\x04\x00\xff\xfb\x90" + audio_format.encode() + b"\x00" + text_spoken.encode() + bytes(range(256))


def small_wav() -> bytes:
    """A tenth of a second of 8 kHz mono silence, as a real WAV file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(8000)
        file.writeframes(b"\x00\x00" * 800)
    return out.getvalue()


class AudioAIgateway(AIgateway):
    """The AIgateway stand-in with OpenAI-compatible speech and transcription, and text translation."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.uploads: list[list[Part]] = []
        self.route("POST", "/v1/audio/speech", self.speech)
        self.route("POST", "/v1/audio/transcriptions", self.transcription)
        self.route("POST", "/v1/translations", self.translation)

    def speech(self, request: Recorded, _: dict[str, str]) -> Reply:
        body = self.body(request)
        if isinstance(body, Reply):
            return body
        if not (body.get("model") and body.get("input") and body.get("voice")):
            return self.error(400, "model, input and voice are required")
        audio_format = body.get("response_format", "mp3")
        return Reply(200, speech_bytes(body["input"], audio_format), {"Content-Type": SPEECH_TYPES[audio_format]})

    def transcription(self, request: Recorded, _: dict[str, str]) -> Reply:
        if not request.headers.get("content-type", "").startswith("multipart/form-data; boundary="):
            return self.error(400, "Send the audio as multipart/form-data")
        parts = multipart_parts(request)
        self.uploads.append(parts)
        fields = {part.name: part for part in parts}
        if "file" not in fields or fields["file"].filename is None or "model" not in fields:
            return self.error(400, "file (a file part) and model are required")
        if ("async" in fields and fields["async"].data == b"true") or "webhook_url" in fields:
            job_id = f"job_stt_{len(self.jobs) + 1:04d}"
            self.jobs[job_id] = {"id": job_id, "object": "job", "type": "transcription", "status": "queued",
                                 "progress": 0, "model": fields["model"].data.decode(), "created_at": 1767225600,
                                 "result": None}
            return json_reply(self.jobs[job_id], 202)
        return json_reply({"text": f"({len(fields['file'].data)} bytes of {fields['file'].filename})"})

    def translation(self, request: Recorded, _: dict[str, str]) -> Reply:
        body = self.body(request)
        if isinstance(body, Reply):
            return body
        return json_reply({"translation": f"[{body.get('target_lang')}] {body.get('text')}"})


aigateway = standin_fixture(lambda: AudioAIgateway(KEY))


def summary(parts: list[Part]) -> list[tuple[str, str | None, str | None, bytes]]:
    return [(part.name, part.filename, part.content_type, part.data) for part in parts]


async def test_speech_comes_back_as_audio_content(aigateway, tmp_path):
    async with serve_profile("aigateway.yaml", aigateway, tmp_path, AIGATEWAY_API_KEY=KEY) as served:
        names = {tool.name for tool in (await served.client.list_tools()).tools}
        spoken = await served.call("aigateway_create_speech", {"model": "openai/tts-1", "input": "Hello from MCP",
                                                                 "voice": "alloy"})
        sent = aigateway.last
        wav = await served.call("aigateway_create_speech", {"model": "openai/tts-1", "input": "Twice", "voice": "nova",
                                                             "response_format": "wav", "speed": 1.25})
        refused = await served.call("aigateway_create_speech", {"model": "openai/tts-1", "input": "", "voice": "a"})
    assert {"aigateway_create_speech", "aigateway_create_transcription"} <= names  # pinned: listed directly
    assert not spoken.is_error, text(spoken)
    [audio] = spoken.content
    assert isinstance(audio, AudioContent) and audio.mime_type == "audio/mpeg"
    assert base64.b64decode(audio.data) == speech_bytes("Hello from MCP", "mp3")
    assert sent.raw_path == "/v1/audio/speech" and sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.headers["content-type"] == "application/json"
    assert sent.json() == {"model": "openai/tts-1", "input": "Hello from MCP", "voice": "alloy"}
    [audio] = wav.content
    assert isinstance(audio, AudioContent) and audio.mime_type == "audio/wav"
    assert base64.b64decode(audio.data) == speech_bytes("Twice", "wav")
    assert aigateway.last.json()["speed"] == 1.25
    assert refused.is_error and "input" in text(refused)  # an empty text is refused before anything is sent
    assert len(aigateway.received("POST", "/v1/audio/speech")) == 2


async def test_transcription_uploads_the_file_as_multipart_sync_and_async(aigateway, tmp_path):
    audio = small_wav()
    as_data_url = "data:audio/wav;base64," + base64.b64encode(audio).decode()
    async with serve_profile("aigateway.yaml", aigateway, tmp_path, AIGATEWAY_API_KEY=KEY) as served:
        sync = data(await served.call("aigateway_create_transcription", {
            "file": as_data_url, "model": "deepgram/nova-3", "language": "en", "temperature": 0}))
        sync_request = aigateway.last
        named = data(await served.call("aigateway_create_transcription", {
            "file": "data:audio/mpeg;name=meeting%20notes.mp3;base64," + base64.b64encode(b"\xff\xfbmp3").decode(),
            "model": "auto/stt", "response_format": "json"}))
        plain = data(await served.call("aigateway_create_transcription", {
            "file": base64.b64encode(audio).decode(), "model": "deepgram/nova-3"}))
        waited = await served.call("aigateway_create_transcription", {
            "file": as_data_url, "model": "deepgram/flux", "async": True,
            "webhook_url": "https://example.com/hooks/stt"})  # a job: waited for until it has finished
        job = json.loads(waited.content[0].text)
        async_request = aigateway.received("POST", "/v1/audio/transcriptions")[-1]
        polled = data(await served.call("aigateway_get_job", {"id": job["id"]}))
        broken = await served.call("aigateway_create_transcription", {"file": "data:audio/wav;base64,@@@",
                                                                       "model": "deepgram/nova-3"})
    assert sync == {"text": f"({len(audio)} bytes of file.wav)"}
    assert sync_request.raw_path == "/v1/audio/transcriptions"
    assert summary(aigateway.uploads[0]) == [
        ("file", "file.wav", "audio/wav", audio),  # the data: URL's type, and a filename with its extension
        ("model", None, None, b"deepgram/nova-3"),
        ("language", None, None, b"en"),
        ("temperature", None, None, b"0"),
    ]
    assert uuid.UUID(sync_request.headers["idempotency-key"]).version == 4  # a retried job start is one job
    assert named == {"text": "(5 bytes of meeting notes.mp3)"}
    assert summary(aigateway.uploads[1])[0] == ("file", "meeting notes.mp3", "audio/mpeg", b"\xff\xfbmp3")
    assert plain == {"text": f"({len(audio)} bytes of file)"}  # bare base64: the bytes, with no type to name
    assert summary(aigateway.uploads[2])[0] == ("file", "file", "application/octet-stream", audio)

    assert not waited.is_error and "Job job_stt_0001 finished (completed) after 2 polls" in text(waited)
    assert job["id"] == "job_stt_0001" and job["status"] == "completed" and job["result"]["urls"]
    assert summary(aigateway.uploads[3])[1:] == [
        ("model", None, None, b"deepgram/flux"),
        ("async", None, None, b"true"),
        ("webhook_url", None, None, b"https://example.com/hooks/stt"),
    ]
    assert async_request.headers["idempotency-key"] != sync_request.headers["idempotency-key"]
    assert polled["id"] == job["id"] and polled["status"] == "completed"
    assert len(aigateway.received("GET", "/v1/jobs/job_stt_0001")) == 3  # two polls by the call, one by hand

    assert broken.is_error and "`file`" in text(broken) and "nothing was sent" in text(broken)
    assert len(aigateway.received("POST", "/v1/audio/transcriptions")) == 4


async def test_undescribed_utility_routes_take_a_json_object_through_search(aigateway, tmp_path):
    async with serve_profile("aigateway.yaml", aigateway, tmp_path, AIGATEWAY_API_KEY=KEY) as served:
        names = {tool.name for tool in (await served.client.list_tools()).tools}
        found: dict[str, list[str]] = {}
        for query in ("translate text into another language", "classify text into labels",
                      "detect objects in an image", "extract text from an image ocr"):
            hits = data(await served.call("search_operations", {"query": query, "limit": 3}))
            found[query] = [hit["name"] for hit in hits["results"]]
        arguments: dict[str, Any] = {"body": {"model": "m2m100", "text": "Hallo Welt", "target_lang": "en"}}
        translated = data(await served.call("call_operation", {"name": "aigateway_translate_text",
                                                                "arguments": arguments}))
    utility = ["aigateway_translate_text", "aigateway_classify_text", "aigateway_detect_objects",
               "aigateway_extract_text_from_image"]
    assert not names & set(utility)  # not listed directly...
    assert [name in hits for name, hits in zip(utility, found.values(), strict=True)] == [True] * 4  # ...but found
    assert translated == {"translation": "[en] Hallo Welt"}
    assert aigateway.last.raw_path == "/v1/translations" and aigateway.last.json() == arguments["body"]
