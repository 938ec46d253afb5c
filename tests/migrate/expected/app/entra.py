"""An Azure client signed in with Entra ID: llmswitch's azure provider takes API keys only."""

from openai import AsyncAzureOpenAI


def make_entra_client(token_provider):  # type: ignore[no-untyped-def]
    return AsyncAzureOpenAI(azure_endpoint="https://example.openai.azure.com", api_version="2024-10-21",
                            azure_ad_token_provider=token_provider)
