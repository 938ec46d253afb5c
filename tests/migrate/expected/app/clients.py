"""Client factory: the one place that builds API clients."""

import os

import openai
import llmswitch


def make_client(timeout: float = 30.0) -> llmswitch.OpenAI:
    # keys and the endpoint come from the deployment's environment
    return llmswitch.OpenAI(
        api_key=os.environ["OPENAI_API_KEY"],
        base_url=os.getenv("OPENAI_BASE_URL"),
        timeout=timeout,
    )


def make_async_client() -> llmswitch.AsyncOpenAI:
    return llmswitch.AsyncOpenAI(max_retries=1)  # reads OPENAI_API_KEY / OPENAI_BASE_URL itself


# fmt: off
CLIENT_CLASSES = {
    "sync":  llmswitch.OpenAI,       # aligned by hand
    "async": llmswitch.AsyncOpenAI,
}
# fmt: on


def is_rate_limited(exc: Exception) -> bool:
    return isinstance(exc, openai.RateLimitError)
