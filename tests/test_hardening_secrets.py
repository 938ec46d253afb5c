"""Issue #14: no credential leaves its origin or reaches a log; hostile input gets one clear error.

Leak tests grep every captured log record (all loggers, DEBUG), the exception message, its repr
and its formatted traceback for the secret. The redirect tests run a second loopback server and
assert what it received.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import traceback
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest

import llmswitch
from llmswitch import errors
from llmswitch._secret import MASK, UserinfoFilter, install_log_filters, redact
from llmswitch.config import load
from llmswitch.testing import Fault, MockServer

KEY = "sk-hardening-SECRET-0123456789abcdef"
PASSWORD = "pw-S3cr3tBasicPass"
MESSAGES = [{"role": "user", "content": "hello there"}]
MODES = ("sync", "async")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    for name in ("LLMSWITCH_CONFIG", "OPENAI_API_KEY", "OPENAI_BASE_URL", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                 "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    caplog.set_level(logging.DEBUG)  # every logger, every level: none may carry a secret


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer({"primary": "openai", "claude": "anthropic", "gemini": "gemini", "hunyuan": "hunyuan",
                     "hy": "hunyuan"}) as running:
        yield running


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[MockServer]:
    """Another origin (another port): it records every request that reaches it."""
    with MockServer({"primary": "openai", "claude": "anthropic", "gemini": "gemini", "hunyuan": "hunyuan"}) as other:
        yield other


@pytest.fixture(autouse=True)
def _fresh(server: MockServer, elsewhere: MockServer) -> None:
    for running in (server, elsewhere):
        for mount in running.app.mounts.values():
            mount.script.clear()
            mount.requests.clear()


def call(mode: str, cfg: dict[str, Any], model: str, *, http_client: Any = None, **params: Any) -> Any:
    """One chat call on a fresh client: the completion, or the exception raised."""
    if mode == "sync":
        with llmswitch.OpenAI(config=cfg, http_client=http_client, sleep=lambda s: None) as client:
            try:
                return client.chat.completions.create(model=model, messages=MESSAGES, **params)
            except Exception as exc:
                return exc

    async def main() -> Any:
        async def no_sleep(seconds: float) -> None:
            pass

        async with llmswitch.AsyncOpenAI(config=cfg, http_client=http_client, sleep=no_sleep) as client:
            try:
                return await client.chat.completions.create(model=model, messages=MESSAGES, **params)
            except Exception as exc:
                return exc

    return asyncio.run(main())


def everything_printed(exc: BaseException | None, caplog: pytest.LogCaptureFixture) -> list[str]:
    texts = [record.getMessage() for record in caplog.records]
    texts += [str(record.args) for record in caplog.records]
    if exc is not None:
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
        texts += [repr(getattr(exc, "body", None))]
    return texts


def assert_never_printed(secret: str, exc: BaseException | None, caplog: pytest.LogCaptureFixture) -> None:
    forms = {secret, repr(secret)[1:-1], secret.encode("unicode_escape").decode()}
    for text in everything_printed(exc, caplog):
        for form in forms:
            assert form not in text, text[:300]


# -- redirects -------------------------------------------------------------------------------------

CREDENTIALED = {  # provider type → (mount, the header that carries its credential)
    "openai": ("primary", "authorization"),
    "azure": ("primary", "api-key"),
    "anthropic": ("claude", "x-api-key"),
    "gemini": ("gemini", "x-goog-api-key"),
    "hunyuan": ("hunyuan", "authorization"),
}


def provider(kind: str, base_url: str) -> dict[str, Any]:
    if kind == "hunyuan":
        return {"type": kind, "base_url": base_url, "secret_id": "AKIDhardening", "secret_key": KEY}
    if kind == "azure":
        return {"type": kind, "base_url": base_url, "api_key": KEY, "api_version": "2024-10-21"}
    return {"type": kind, "base_url": base_url, "api_key": KEY}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", sorted(CREDENTIALED))
def test_a_redirect_to_another_origin_receives_nothing(server: MockServer, elsewhere: MockServer, mode: str,
                                                       kind: str, caplog: pytest.LogCaptureFixture) -> None:
    mount, header = CREDENTIALED[kind]
    target = elsewhere.url + "/" + mount + "/v1/chat/completions"
    server.mount(mount).fail(Fault(kind="redirect", status=307, headers={"location": target}))
    cfg = {"providers": {"p": provider(kind, server.base_url(mount))}}
    outcome = call(mode, cfg, "p/gpt-4o")
    assert isinstance(outcome, errors.APIStatusError) and outcome.status_code == 307, outcome
    assert f"redirected to {elsewhere.url}" in str(outcome) and "follows no redirects" in str(outcome)
    assert elsewhere.mount(mount).requests == []  # neither the credential nor the request went there
    assert server.mount(mount).requests[0].headers.get(header)  # it was sent, to its own origin only
    assert_never_printed(KEY, outcome, caplog)


@pytest.mark.parametrize("mode", MODES)
def test_a_callers_client_that_follows_redirects_still_does_not(server: MockServer, elsewhere: MockServer,
                                                                mode: str) -> None:
    target = elsewhere.url + "/primary/v1/chat/completions"
    server.mount("primary").fail(Fault(kind="redirect", status=308, headers={"location": target}))
    cfg = {"providers": {"p": provider("azure", server.base_url("primary"))}}
    http: Any = httpx2.Client(follow_redirects=True) if mode == "sync" else httpx2.AsyncClient(follow_redirects=True)
    try:
        outcome = call(mode, cfg, "p/gpt-4o", http_client=http)
    finally:
        if mode == "sync":
            http.close()
        else:
            asyncio.run(http.aclose())
    assert isinstance(outcome, errors.APIStatusError) and outcome.status_code == 308
    assert elsewhere.mount("primary").requests == []


def test_the_redirect_fault_parses_a_url_location() -> None:
    fault = Fault.parse("redirect:status=302:location=http://127.0.0.1:8001/v1/x*2")
    assert (fault.kind, fault.status, fault.headers["location"], fault.times) == (
        "redirect", 302, "http://127.0.0.1:8001/v1/x", 2)


# -- secrets in odd places ---------------------------------------------------------------------------

def test_a_key_with_a_line_break_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("LEAKY_KEY", KEY + "\r\nX-Injected: 1")
    with pytest.raises(llmswitch.ConfigError) as info:
        load({"providers": {"p": {"type": "openai", "api_key": "${LEAKY_KEY}"}}})
    assert "LEAKY_KEY" in str(info.value) and "control character" in str(info.value)
    assert "providers.p.api_key" in str(info.value)
    assert_never_printed(KEY, info.value, caplog)


def test_a_key_with_a_control_character_from_the_preset_variable_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY", KEY + "\n")
    with pytest.raises(llmswitch.ConfigError) as info:
        load({"providers": {"ds": {"type": "deepseek"}}, "routes": {"r": {"targets": ["ds/deepseek-chat"]}}})
    assert "DEEPSEEK_API_KEY" in str(info.value)
    assert_never_printed(KEY, info.value, caplog)


def test_a_direct_key_with_a_line_break_is_refused_without_echoing_it(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(llmswitch.ConfigError) as info:
        llmswitch.OpenAI(api_key=KEY + "\n", base_url="http://127.0.0.1:9/v1")
    assert "providers.openai.api_key" in str(info.value)
    assert_never_printed(KEY, info.value, caplog)


@pytest.mark.parametrize("mode", MODES)
def test_a_password_in_base_url_is_sent_as_basic_auth_and_never_logged(server: MockServer, mode: str,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    base = server.base_url("hy").replace("http://", f"http://user:{PASSWORD}@")
    cfg = {"providers": {"p": {"type": "hunyuan", "base_url": base, "secret_id": "AKIDx", "secret_key": KEY}}}
    outcome = call(mode, cfg, "p/hunyuan-turbo")
    assert not isinstance(outcome, Exception), outcome  # async used to raise aiohttp's ValueError
    sent = server.mount("hy").requests[0]
    assert PASSWORD not in sent.path
    assert_never_printed(PASSWORD, None, caplog)
    assert_never_printed(base64.b64encode(f"user:{PASSWORD}".encode()).decode(), None, caplog)
    assert any("HTTP Request" in r.getMessage() for r in caplog.records) or mode == "async"


@pytest.mark.parametrize("mode", MODES)
def test_userinfo_becomes_a_basic_auth_header_when_none_is_set(mode: str) -> None:
    with MockServer({"open": "ollama"}) as local:
        base = local.base_url("open").replace("http://", f"http://user:{PASSWORD}@")
        outcome = call(mode, {"providers": {"p": {"type": "ollama", "base_url": base}}}, "p/llama3")
        assert not isinstance(outcome, Exception), outcome
        token = base64.b64encode(f"user:{PASSWORD}".encode()).decode()
        assert local.mount("open").requests[0].headers["authorization"] == f"Basic {token}"


def test_a_password_in_base_url_is_masked_in_config_errors(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(llmswitch.ConfigError) as info:
        load({"providers": {"p": {"type": "openai", "api_key": "k" * 10,
                                  "base_url": f"http://user:{PASSWORD}@127.0.0.1:99999/v1"}}})
    assert "invalid port" in str(info.value)
    assert_never_printed(PASSWORD, info.value, caplog)


def test_an_inline_key_on_a_line_with_a_syntax_error_is_masked(tmp_path: Any) -> None:
    path = tmp_path / "providers.yaml"
    path.write_text(f'providers:\n  p:\n    type: openai\n    api_key: "{KEY}\n    base_url: [\n', encoding="utf-8")
    with pytest.raises(llmswitch.ConfigError) as info:
        load(path)
    assert "not valid YAML" in str(info.value) and str(path) in str(info.value)
    assert KEY not in str(info.value) and KEY[:20] not in str(info.value)


# -- the one redaction function --------------------------------------------------------------------

SPLIT = KEY[:12] + "\r\n" + KEY[12:]  # a key with a CR/LF inside, as a bad environment variable gives


@pytest.mark.parametrize(("secret", "printed"), [
    (KEY, f"Error: bad key {KEY}"),
    (KEY + "\r\n", repr(KEY + "\r\n")),  # printed repr-escaped, as h11 and httpx2 print header values
    (SPLIT, f"Illegal header value {SPLIT.encode()!r}"),
    (KEY, '{"key": "' + KEY + '"}'),
    (KEY, "https://x.test/v1?key=" + KEY.replace("-", "%2D")),  # over-escaped
    (SPLIT, "token=" + KEY[:12] + "%0d%0A" + KEY[12:]),  # URL-escaped, lower-case hex
    (SPLIT, f"header 1: {KEY[:12]}, header 2: {KEY[12:]}"),  # the two lines, apart
])
def test_redact_masks_every_spelling_of_a_secret(secret: str, printed: str) -> None:
    masked = redact(printed, [secret])
    assert MASK in masked
    for piece in (KEY, KEY[:12], KEY[12:]):
        assert piece not in masked and piece.replace("-", "%2D") not in masked, masked


def test_redact_masks_short_keys_standing_alone_but_not_inside_words() -> None:
    assert redact("bad key abc12 given", ["abc12"]) == f"bad key {MASK} given"
    assert redact("xabc12y", ["abc12"]) == "xabc12y"


def test_redact_masks_basic_auth_and_url_passwords_even_unknown_ones() -> None:
    token = base64.b64encode(b"user:hunter2hunter2").decode()
    assert token not in redact(f"Authorization: Basic {token}", ["user:hunter2hunter2"])
    assert redact("GET http://bob:opensesame@host/x") == f"GET http://bob:{MASK}@host/x"


def test_the_log_filter_masks_url_userinfo_in_third_party_loggers(caplog: pytest.LogCaptureFixture) -> None:
    install_log_filters()
    assert any(isinstance(f, UserinfoFilter) for f in logging.getLogger("httpx2").filters)
    logging.getLogger("httpx2").info("HTTP Request: %s %s", "POST", f"http://u:{PASSWORD}@h/v1")
    logging.getLogger("httpcore2.connection").debug(f"connect http://u:{PASSWORD}@h")
    assert_never_printed(PASSWORD, None, caplog)


# -- hostile input ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("params", "named"), [
    ({"temperature": float("nan")}, "temperature"),
    ({"top_p": float("inf")}, "top_p"),
    ({"extra_body": {"vendor": {"weights": [1.0, float("-inf")]}}}, "vendor.weights[1]"),
])
def test_nan_and_infinities_are_refused_before_sending(server: MockServer, mode: str, params: dict[str, Any],
                                                       named: str) -> None:
    cfg = {"providers": {"p": provider("openai", server.base_url("primary"))}}
    outcome = call(mode, cfg, "p/gpt-4o", **params)
    assert isinstance(outcome, errors.BadRequestError) and isinstance(outcome, openai.BadRequestError), outcome
    assert named in str(outcome) and "[p/gpt-4o]" in str(outcome)
    assert server.mount("primary").requests == []  # nothing was sent


def test_the_word_nan_in_a_prompt_is_no_number(server: MockServer) -> None:
    cfg = {"providers": {"p": provider("openai", server.base_url("primary"))}}
    with llmswitch.OpenAI(config=cfg) as client:
        reply = client.chat.completions.create(model="p/gpt-4o", messages=[{"role": "user", "content": "NaN Infinity"}])
    assert reply.choices[0].message.content


@pytest.mark.parametrize("mode", MODES)
def test_an_html_error_page_is_summarised(server: MockServer, mode: str) -> None:
    server.mount("primary").fail(Fault(kind="html", status=502))
    cfg = {"providers": {"p": provider("openai", server.base_url("primary"))},
           "defaults": {"retry": {"max_attempts": 1}}}
    outcome = call(mode, cfg, "p/gpt-4o")
    assert isinstance(outcome, errors.InternalServerError)
    assert "HTML page '502 Bad Gateway'" in str(outcome) and "<" not in str(outcome)


# -- quota and arrears -------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_arrears_are_openais_rate_limit_and_routes_fall_back(server: MockServer, mode: str) -> None:
    server.mount("hunyuan").fail(Fault(status=402, error="quota", message="account in arrears"))
    cfg = {"providers": {"hy": provider("hunyuan", server.base_url("hunyuan")),
                         "p": provider("openai", server.base_url("primary"))},
           "routes": {"chat": {"targets": ["hy/hunyuan-turbo", "p/gpt-4o"]}}}  # default fallback_on
    served = call(mode, cfg, "chat")
    assert not isinstance(served, Exception), served
    info = llmswitch.route_info(served)
    assert info is not None and [a.kind for a in info.attempts] == ["quota", None]
    server.mount("hunyuan").fail(Fault(status=402, error="quota"))
    alone = call(mode, cfg, "hy/hunyuan-turbo")
    assert isinstance(alone, errors.QuotaExceededError) and isinstance(alone, openai.RateLimitError)
    assert alone.code == "ResourceUnavailable.InArrears" and alone.kind == "quota"
    assert server.mount("hunyuan").script.pending == 0 and len(server.mount("hunyuan").requests) == 2  # no retry


# -- Anthropic's two base URL conventions -------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("suffix", ["/v1", "", "/"])
def test_anthropic_accepts_the_sdk_base_url_without_v1(server: MockServer, mode: str, suffix: str) -> None:
    cfg = {"providers": {"c": provider("anthropic", f"{server.url}/claude{suffix}")}}
    outcome = call(mode, cfg, "c/claude-3-5-haiku-latest")
    assert not isinstance(outcome, Exception), outcome
    assert server.mount("claude").requests[0].path == "/v1/messages"
