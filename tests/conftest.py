"""Shared fixtures: a tiny tokenizer built locally, verl's composed trainer config, a stub LLM judge.

Nothing is downloaded: the tokenizer is trained here on a few clinical sentences.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

_TRAINING_TEXT = [
    "<dx> A 54-year-old man has crushing chest pain, diaphoresis and ST elevation in II, III and aVF. "
    "Option B is unlikely because the pain is not pleuritic. </dx>",
    "<conclusion> The findings support an inferior myocardial infarction. Final answer: \\boxed{C} </conclusion>",
]


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory) -> str:
    """A byte-level BPE tokenizer (decodes any text exactly) saved in Hugging Face format."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<|pad|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(_TRAINING_TEXT * 4, trainer)
    path = tmp_path_factory.mktemp("tiny_tokenizer")
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|endoftext|>", pad_token="<|pad|>").save_pretrained(
        path
    )
    return str(path)


@pytest.fixture(scope="session")
def compose_verl_config():
    """Compose verl's own ``ppo_trainer`` config with hydra overrides, as main_ppo would."""
    from hydra import compose, initialize_config_module

    def compose_config(overrides: list[str]):
        with initialize_config_module(config_module="verl.trainer.config", version_base=None):
            return compose(config_name="ppo_trainer", overrides=overrides)

    return compose_config


class StubJudge:
    """What the stub answers (``behave(number, body) -> (status, body text)``) and what it received."""

    VALID: ClassVar[dict[str, int]] = {
        "faithfulness": 4,
        "evidence_citation": 3,
        "distractor_rejection": 2,
        "hallucination": 5,
    }

    @staticmethod
    def completion(content: str) -> str:
        """An OpenAI chat completion whose message content is ``content``."""
        return json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]})

    def __init__(self) -> None:
        valid = self.completion(json.dumps(self.VALID))
        self.behave: Callable[[int, dict], tuple[int, str]] = lambda number, body: (200, valid)
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.release = threading.Event()  # set at teardown so a sleeping handler ends at once
        self.url = ""

    def wait(self, seconds: float) -> None:
        self.release.wait(seconds)


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        state: StubJudge = self.server.state
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with state.lock:
            number = len(state.requests)
            state.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            status, text = state.behave(number, body)
        finally:
            with state.lock:
                state.in_flight -= 1
        data = text.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (timeout test)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def stub_judge():
    """An OpenAI-compatible judge on 127.0.0.1 (a free port), shut down after the test; see StubJudge."""
    state = StubJudge()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.state = state
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
