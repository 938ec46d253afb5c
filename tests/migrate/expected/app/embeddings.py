from llmswitch import OpenAI as Client


def embed(texts: list[str]) -> list[list[float]]:
    """Vectors for ``texts``, in order."""
    with Client() as client:
        result = client.embeddings.create(model="text-embedding-3-small", input=texts)
    return [item.embedding for item in result.data]
