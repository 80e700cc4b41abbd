"""Token counting that works offline and leaves the host process alone.

- `local/smollm2`: the GGUF's own tokenizer and chat template (the tokenizer the llama.cpp server
  uses, loaded vocabulary-only in-process, so counting never needs the server running).
- A model whose `tokenizer` names a file: that tokenizer (a GGUF's vocabulary, or a Hugging Face
  `tokenizer.json`), exactly.
- Models LiteLLM knows: LiteLLM's `token_counter`.
- Anything else: tiktoken's cl100k_base times `tokens_per_cl100k`, per model; by default 1.2,
  about the most that the 49-65k vocabularies measured by `benchmarks/token_ratio.py` need on
  English text and code (o200k needs 0.99-1.01x). Undercounting overflows the window, which
  fails the call; overcounting only costs more chunks.

Tokenizers are loaded once per process and file (a GGUF vocabulary takes ~0.15 s). tiktoken's BPE
files are read from the copy inside the LiteLLM wheel, without importing LiteLLM or setting
`TIKTOKEN_CACHE_DIR`.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import math
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from agentrun.agents.messages import Message, image_count, text_of
from agentrun.errors import ConfigError

if TYPE_CHECKING:
    import tiktoken

#: Tokens per cl100k_base token assumed for models whose tokenizer cannot be run.
DEFAULT_TOKENS_PER_CL100K = 1.2
#: Per-message overhead of chat formatting (role markers), as in OpenAI's accounting.
TOKENS_PER_MESSAGE = 4
#: What one image costs in the count when the exact figure is unknown (OpenAI's low-detail price).
TOKENS_PER_IMAGE = 85

_CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+|"""
    r""" ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_CL100K_SPECIAL = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}


def litellm_tokenizer_dir() -> Path:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("litellm is not installed; install agentrun with its dependencies")
    return Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"


@functools.cache
def cl100k() -> tiktoken.Encoding:
    """cl100k_base built from the BPE file LiteLLM ships (no download, no env change)."""
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    folder = litellm_tokenizer_dir()
    bpe_files = [p for p in folder.iterdir() if p.is_file() and not p.suffix]
    for candidate in bpe_files:
        ranks = load_tiktoken_bpe(str(candidate))
        if len(ranks) == 100256:
            return tiktoken.Encoding(
                name="cl100k_base",
                pat_str=_CL100K_PATTERN,
                mergeable_ranks=ranks,
                special_tokens=_CL100K_SPECIAL,
            )
    raise ConfigError(f"cl100k_base BPE file not found under {folder}; reinstall litellm")


def count_cl100k(text: str) -> int:
    return len(cl100k().encode(text, disallowed_special=()))


#: Threads that count in parallel: one per core (tiktoken releases the GIL while it encodes).
COUNTING_THREADS = os.cpu_count() or 1


@functools.cache
def _counting_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(COUNTING_THREADS, thread_name_prefix="agentrun-count")


def count_cl100k_many(texts: Sequence[str]) -> list[int]:
    """`count_cl100k` of each text, the texts shared out in one contiguous slice per thread
    (tiktoken's own batch call makes a thread pool and a task per text, which costs more than
    counting a paragraph)."""
    encoding = cl100k()

    def count_slice(part: Sequence[str]) -> list[int]:
        return [len(encoding.encode_ordinary(text)) for text in part]

    if len(texts) < 2 * COUNTING_THREADS:
        return count_slice(texts)
    size = -(-len(texts) // COUNTING_THREADS)  # ceiling division
    parts = [texts[start : start + size] for start in range(0, len(texts), size)]
    return [n for counts in _counting_pool().map(count_slice, parts) for n in counts]


class TokenCounter(Protocol):
    """Counts a bare text, and chat messages as the model will see them."""

    def count_text(self, text: str) -> int: ...

    def count_texts(self, texts: Sequence[str]) -> list[int]: ...

    def count_messages(self, messages: Sequence[Message]) -> int: ...


class LocalTokenizer:
    """A GGUF's tokenizer and chat template, loaded without weights on first use."""

    def __init__(self, model_path: str) -> None:
        self.model_path = model_path
        self._lock = threading.Lock()
        self._llama: Any = None
        self._template: Any = None

    def _load(self) -> Any:
        with self._lock:
            if self._llama is None:
                import jinja2.sandbox
                import llama_cpp
                from llama_cpp._utils import suppress_stdout_stderr

                try:
                    with suppress_stdout_stderr(disable=False):
                        llama = llama_cpp.Llama(self.model_path, vocab_only=True, verbose=False)
                except Exception as exc:
                    raise ConfigError(
                        f"tokenizer {self.model_path!r}: its vocabulary cannot be read ({exc}); "
                        "give a GGUF model file"
                    ) from exc
                # freed before interpreter shutdown, when llama.cpp's bindings are already gone
                atexit.register(llama.close)
                self._llama = llama
                source = self._llama.metadata.get("tokenizer.chat_template")
                if source:
                    env = jinja2.sandbox.ImmutableSandboxedEnvironment()
                    self._template = env.from_string(source)
        return self._llama

    def count_text(self, text: str) -> int:
        llama = self._load()
        return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def count_texts(self, texts: Sequence[str]) -> list[int]:
        return [self.count_text(text) for text in texts]

    def count_messages(self, messages: Sequence[Message]) -> int:
        self._load()
        plain = [{"role": m["role"], "content": _flatten(m.get("content"))} for m in messages]
        if self._template is None:
            return self.count_text(text_of(messages)) + TOKENS_PER_MESSAGE * len(messages)
        prompt = self._template.render(messages=plain, add_generation_prompt=True)
        return self.count_text(prompt) + _image_tokens(messages)


def _flatten(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


@functools.cache
def local_tokenizer(model_path: str) -> LocalTokenizer:
    """The GGUF's tokenizer, shared by every gateway of the process."""
    return LocalTokenizer(model_path)


class HuggingFaceTokenizer:
    """A Hugging Face `tokenizer.json`; chat formatting is estimated per message."""

    def __init__(self, path: str) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(path)
        self._tokenizer.no_truncation()  # count all of a text, however long,
        self._tokenizer.no_padding()  # and nothing but the text

    def count_text(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def count_texts(self, texts: Sequence[str]) -> list[int]:
        """Counted on every core (the tokenizers library's own batch)."""
        encoded = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(encoding.ids) for encoding in encoded]

    def count_messages(self, messages: Sequence[Message]) -> int:
        text_tokens = self.count_text(text_of(messages))
        return text_tokens + TOKENS_PER_MESSAGE * len(messages) + _image_tokens(messages)


class Cl100kEstimate:
    """cl100k_base counts scaled to a model whose own tokenizer cannot be run."""

    def __init__(self, tokens_per_cl100k: float = DEFAULT_TOKENS_PER_CL100K) -> None:
        self.tokens_per_cl100k = tokens_per_cl100k

    def count_text(self, text: str) -> int:
        return math.ceil(count_cl100k(text) * self.tokens_per_cl100k)

    def count_texts(self, texts: Sequence[str]) -> list[int]:
        return [math.ceil(n * self.tokens_per_cl100k) for n in count_cl100k_many(texts)]

    def count_messages(self, messages: Sequence[Message]) -> int:
        raw = count_cl100k(text_of(messages)) + TOKENS_PER_MESSAGE * len(messages) + 3
        return math.ceil(raw * self.tokens_per_cl100k) + _image_tokens(messages)


def _image_tokens(messages: Sequence[Message]) -> int:
    return TOKENS_PER_IMAGE * image_count(messages)


@functools.cache
def tokenizer_file(path: str) -> TokenCounter:
    """The tokenizer in `path` (a .gguf file or a tokenizer.json), loaded once per process."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(
            f"tokenizer {path!r}: no such file; give a .gguf file or a tokenizer.json"
        )
    if file.suffix == ".gguf":
        return local_tokenizer(str(file))
    if file.suffix == ".json":
        try:
            return HuggingFaceTokenizer(str(file))
        except Exception as exc:
            raise ConfigError(f"tokenizer {path!r} is not a tokenizer.json: {exc}") from exc
    raise ConfigError(f"tokenizer {path!r}: expected a .gguf file or a tokenizer.json")
