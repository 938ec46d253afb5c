import os

from llmswitch import OpenAI


def make_azure() -> OpenAI:
    return OpenAI(
        max_retries=3,
    )
