# llmswitch serve in a container: docker build -t llmswitch . && docker run -p 8080:8080 llmswitch
# Mount a providers file and pass its ${VARS}: -v $PWD/providers.yaml:/etc/llmswitch/providers.yaml -e KEY=…
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir '.[serve]' && useradd --system --no-create-home llmswitch
USER llmswitch
ENV LLMSWITCH_CONFIG=/etc/llmswitch/providers.yaml
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=2s CMD python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/health')"
# with no file at $LLMSWITCH_CONFIG the gateway refuses to start; for the demo mocks run with -e LLMSWITCH_CONFIG=
CMD ["llmswitch", "serve", "--host", "0.0.0.0", "--port", "8080"]
