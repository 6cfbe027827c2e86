"""Neither the IMS access token nor the client secret reaches any log output, even at DEBUG."""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path
from urllib.parse import urlencode

from async_usersync.redaction import forget_secrets
from async_usersync.config.settings import LogSettings
from async_usersync.logs.stream import streaming_logs
from async_usersync.records import UserCommand
from async_usersync.umapi import UmapiClient
from tests.umapi.conftest import client_settings


async def test_tokens_and_the_client_secret_are_masked_in_every_output(sandbox_factory, tmp_path: Path) -> None:
    forget_secrets()  # what is masked below was registered by the client itself
    server = await sandbox_factory(time_scale=600.0, token_lifetime=1)
    settings = LogSettings(log_to_file=True, file_log_directory=tmp_path, file_log_name_format="run.log",
                           file_log_level="debug", console_log_level="debug", json_log_file=tmp_path / "run.jsonl")
    console = io.StringIO()
    wire = logging.getLogger("async_usersync.umapi.wire")
    command = UserCommand(user="nobody@example.com", remove_from_org=True)
    async with streaming_logs(settings, run_id="tokens", console=console) as stream:
        async with UmapiClient(client_settings(server)) as client:
            for _ in range(2):  # a token lifetime of 1 s: each round fetches a new token
                assert len([user async for user in client.users()]) == 20
                async with client.action_sink() as sink:
                    await sink.send(command)
                await asyncio.sleep(1.0)
            assert client.transport.token.fetches >= 2
            tokens = list(server.sandbox.tokens._tokens)
            # What a request dump or an echoing server's error text would carry:
            for token in tokens:
                wire.debug("GET users: Authorization: Bearer %s", token)
                wire.error("server said: token %r refused", token)
            wire.debug("token request: %s", urlencode({"client_secret": server.client_secret, "scope": "x"}))
    outputs = {"console": console.getvalue(), "file": stream.log_file.read_text(),  # type: ignore[union-attr]
               "json": (tmp_path / "run.jsonl").read_text()}
    assert len(tokens) >= 2
    for name, text in outputs.items():
        assert "Bearer ********" in text and "client_secret=********" in text, name
        for secret in (*tokens, server.client_secret):
            assert secret not in text, name
