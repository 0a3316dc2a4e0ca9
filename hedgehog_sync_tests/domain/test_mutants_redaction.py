"""domain/redaction, value by value: kills the mutants that survived the domain tests (issue 19).

Expected texts are written out here; the shapes a secret takes on the way out are computed with the
standard library's own encoders, never with the module's helpers.
"""

import base64
from urllib.parse import quote, quote_plus

import pytest

from hedgehog_sync.domain import redaction
from hedgehog_sync.domain.redaction import (
    MASK, MIN_SECRET_LENGTH, normalize_secret, redact, register_secret, register_secret_env, safe_url,
)


def test_the_mask_and_the_shortest_secret():
    assert MASK == "***" and MIN_SECRET_LENGTH == 6


@pytest.mark.parametrize("raw,normalized", [
    ("s3cret-value\n", "s3cret-value"), ("  s3cret-value \t\n", "s3cret-value"), ("a b", "a b"), ("", ""),
])
def test_a_secret_is_trimmed_as_kubectl_and_git_trim_it(raw, normalized):
    assert normalize_secret(raw) == normalized


def test_register_returns_the_normalized_secret_and_none_stays_none():
    assert register_secret(None) is None
    assert register_secret("  mutant-reg-token-1\n") == "mutant-reg-token-1"
    assert redact("x mutant-reg-token-1 y") == f"x {MASK} y"
    assert redact("x  mutant-reg-token-1\n y") == f"x  {MASK}\n y"


def test_a_short_value_is_returned_but_never_masks_ordinary_words():
    assert register_secret(" abcde ") == "abcde"  # 5 characters: too short to be a credential
    assert redact("abcde and abcdef") == "abcde and abcdef"
    assert register_secret("zq9x7w") == "zq9x7w"  # exactly 6: a credential
    assert redact("key=zq9x7w.") == f"key={MASK}."


def test_registering_twice_keeps_one_entry():
    register_secret("mutant-twice-secret")
    forms = list(redaction._forms)
    register_secret("mutant-twice-secret\n")
    assert redaction._forms == forms and "mutant-twice-secret" in redaction._secrets


SECRET = "mutant-shape-s3cret/with+odd chars=ok"


@pytest.fixture(scope="module", autouse=True)
def _registered():
    register_secret(SECRET)


def shapes():
    raw = SECRET.encode()
    return {
        "plain": SECRET,
        "quoted": quote(SECRET, safe=""),
        "quote_plus": quote_plus(SECRET),
        "base64": base64.b64encode(raw).decode(),
        "base64 unpadded": base64.b64encode(raw).decode().rstrip("="),
        "urlsafe base64": base64.urlsafe_b64encode(raw).decode(),
        # HTTP Basic auth: user:secret, so the secret sits at another alignment in the base64
        "basic auth, 1 byte before": base64.b64encode(b"u:" + raw).decode(),
        "basic auth, 2 bytes before": base64.b64encode(b"ab:" + raw).decode(),
        "basic auth, 3 bytes before": base64.b64encode(b"abc:" + raw).decode(),
        "urlsafe, 1 byte before": base64.urlsafe_b64encode(b"u:" + raw).decode(),
        "urlsafe, 2 bytes before": base64.urlsafe_b64encode(b"ab:" + raw).decode(),
        "with bytes after": base64.b64encode(b"u:" + raw + b"\nmore").decode(),
    }


@pytest.mark.parametrize("shape", list(shapes()))
def test_every_shape_of_a_registered_secret_is_masked(shape):
    text = shapes()[shape]
    out = redact(f"Authorization: Basic {text} sent")
    assert out.startswith("Authorization: Basic ") and out.endswith(" sent") and MASK in out
    # Nothing of the secret that is 8 base64 characters or more long survives.
    raw = SECRET.encode()
    for offset in range(3):
        enc = base64.b64encode(b"\0" * offset + raw).decode()
        assert enc[4:-8] not in out


def test_every_alignment_is_among_the_forms():
    raw = b"mutant-align-secret-42"
    register_secret(raw.decode())
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * offset + raw).decode()
            first, last = -(-offset // 3), (offset + len(raw)) // 3
            assert encoded[first * 4:last * 4] in redaction._forms
    assert redaction._forms == sorted(redaction._forms, key=len, reverse=True)  # longest first


def test_the_longest_form_is_masked_first():
    """A shorter form inside a longer one must not leave the longer one's rest behind."""
    register_secret("mutant-long")
    register_secret("mutant-long-and-longer")
    assert redact("[mutant-long-and-longer]") == f"[{MASK}]"


def test_env_vars_named_like_credentials_are_registered(monkeypatch):
    names = {"MY_TOKEN": "mutant-env-token-1", "DB_PASSWORD": "mutant-env-pw-2", "X_PASSWD": "mutant-env-pw-3",
             "A_SECRET": "mutant-env-secret-4", "CREDENTIALS_FILE_X": "mutant-env-cred-5",
             "SERVICE_API_KEY": "mutant-env-apikey-6", "SERVICE_APIKEY": "mutant-env-apikey-7",
             "GPG_PRIVATE_KEY": "mutant-env-pk-8", "SLACK_WEBHOOK": "mutant-env-hook-9",
             "lower_token": "mutant-env-lower-10"}
    for name, value in names.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOME_DIRECTORY_X", "mutant-env-not-a-secret")
    monkeypatch.setenv("EMPTY_TOKEN", "")
    register_secret_env()
    for value in names.values():
        assert redact(f"<{value}>") == f"<{MASK}>", value
    assert redact("mutant-env-not-a-secret") == "mutant-env-not-a-secret"


@pytest.mark.parametrize("url,shown", [
    ("https://user:pw@git.example.com/org/repo.git", "https://git.example.com/org/repo.git"),
    ("https://git.example.com:8443/r.git?token=abc#frag", "https://git.example.com:8443/r.git"),
    ("https://tok@[2001:db8::1]:443/r", "https://[2001:db8::1]:443/r"),
    ("http://[::1]/r", "http://[::1]/r"),
    ("ssh://git@host/path", "ssh://host/path"),
    ("https://h:99999/x", "<unparseable URL>"),
    ("http://[bad/x", "<unparseable URL>"),
], ids=["userinfo", "port-query-fragment", "ipv6-userinfo", "ipv6-loopback", "ssh-user", "bad-port", "bad-ipv6"])
def test_safe_url_keeps_scheme_host_port_and_path_only(url, shown):
    assert safe_url(url) == shown


@pytest.mark.parametrize("text,out", [
    ("", ""),
    ("no url here", "no url here"),
    ("fetch https://user:pw@git.example.com/org/r.git failed",
     "fetch https://***@git.example.com/org/r.git failed"),
    ("at https://a@b@h.example.com/x", "at https://***@h.example.com/x"),
    ("GET https://h.example.com/api/v1?token=abc&x=1 refused", "GET https://h.example.com/api/v1?*** refused"),
    ("GET https://h.example.com?token=abc refused", "GET https://h.example.com?*** refused"),
    ("see https://h.example.com/a/b and https://u:p@x.example.com/c?d=e",
     "see https://h.example.com/a/b and https://***@x.example.com/c?***"),
    ("HTTPS://U:P@H.EXAMPLE.COM/X", "HTTPS://***@H.EXAMPLE.COM/X"),
    ("'https://u:p@h/x'", "'https://***@h/x'"),
    ("<https://u:p@h/x>", "<https://***@h/x>"),
    ("git+ssh://me:pw@h/r", "git+ssh://***@h/r"),
    ("https://h.example.com/path@with-at", "https://h.example.com/path@with-at"),
    ("https://h.example.com/p?q=1@x", "https://h.example.com/p?***"),
])
def test_redact_takes_credentials_and_queries_out_of_every_url(text, out):
    assert redact(text) == out


def test_redact_of_none_like_text_is_itself():
    assert redact("") == "" and redact(None) is None


def test_a_base64_fragment_of_exactly_eight_characters_is_masked():
    """Nine bytes one byte into a base64 text cover exactly two whole quanta (8 characters): still masked."""
    secret = "Qz7vK2pW9"
    register_secret(secret)
    one_before = base64.b64encode(b"u" + secret.encode()).decode()  # 'u' + secret: 10 bytes
    fragment = base64.b64encode(b"\0" + secret.encode()).decode()[4:12]  # the 8 characters only the secret decides
    assert fragment in one_before
    out = redact(f"Basic {one_before}")
    assert fragment not in out and MASK in out


# --- with a registry of this test's own ------------------------------------------------------------------
# mutmut runs each mutant in a child forked from the process that ran the whole suite once unmutated, so
# every secret the tests above register is already known there, with the shapes the unmutated code gave
# it: registering it again changes nothing and a mutant of the shapes goes unseen. The tests below start
# from an empty registry (the module's own set and list, swapped for the test), so the shapes they see are
# the ones the code under test computes now.

@pytest.fixture
def fresh_registry(monkeypatch):
    monkeypatch.setattr(redaction, "_secrets", set())
    monkeypatch.setattr(redaction, "_forms", [])


def test_a_secret_inside_base64_at_every_alignment_is_masked_to_the_exact_quanta(fresh_registry):
    """HTTP Basic auth and Kubernetes Secrets carry a token base64-encoded after other bytes (`user:`):
    every quantum only the secret decides is masked, the quanta it shares with its neighbours are kept, so
    an operator reading a log sees `***` exactly where the token was and nothing of it survives."""
    secret = "hh-align-secret-19b"  # 19 bytes
    register_secret(secret)
    raw = secret.encode()
    one_before = base64.b64encode(b"u" + raw).decode()  # 20 bytes: the secret from byte 1
    assert redact(f"Basic {one_before}") == f"Basic {one_before[:4]}{MASK}{one_before[24:]}"
    two_before = base64.b64encode(b"ab" + raw).decode()  # 21 bytes: the secret from byte 2, to the end
    assert redact(f"Basic {two_before}") == f"Basic {two_before[:4]}{MASK}"
    with_more = base64.urlsafe_b64encode(b"u" + raw + b"-and-more").decode()
    assert redact(with_more) == f"{with_more[:4]}{MASK}{with_more[24:]}"
    aligned = base64.b64encode(raw + b"!!").decode()  # the secret from byte 0, more bytes after
    assert redact(aligned) == f"{MASK}{aligned[24:]}"


def test_a_base64_fragment_of_exactly_eight_characters_is_a_form(fresh_registry):
    """A 9-byte secret one byte into a base64 text covers exactly two whole quanta, 8 characters: still
    masked (8 is the shortest fragment kept)."""
    register_secret("hh-9bytes")
    text = base64.b64encode(b"u" + b"hh-9bytes").decode()  # 10 bytes, 16 characters
    assert redact(text) == f"{text[:4]}{MASK}{text[12:]}"
    text = base64.b64encode(b"ab" + b"hh-9bytes").decode()  # 11 bytes: characters 4 to 12 again
    assert redact(text) == f"{text[:4]}{MASK}{text[12:]}"


def test_unpadded_base64_of_either_alphabet_is_masked_whole(fresh_registry):
    """A token base64-encoded without its `=` padding (JWT style, URL parameters) is masked to its last
    character, in the standard and in the URL-safe alphabet (which differ here: `/` and `_`)."""
    secret = "hh?sec>0"  # 8 bytes: base64 aGg/c2VjPjA= and aGg_c2VjPjA=
    register_secret(secret)
    assert base64.b64encode(secret.encode()).decode() == "aGg/c2VjPjA="
    assert redact("t=aGg/c2VjPjA.") == f"t={MASK}."
    assert redact("t=aGg_c2VjPjA.") == f"t={MASK}."
    assert redact("t=aGg/c2VjPjA=.") == f"t={MASK}=."


def test_only_padding_is_stripped_from_the_base64_forms(fresh_registry):
    """The base64 of a secret whose last character is X (a secret ending in W, 9 bytes, no padding) is
    masked whole, and a text that only shares it up to that X (another value) is left as it is."""
    secret = "hh-sec-XW"
    register_secret(secret)
    encoded = base64.b64encode(secret.encode()).decode()
    assert encoded == "aGgtc2VjLVhX"
    assert redact(f"<{encoded}>") == f"<{MASK}>"
    assert redact("<aGgtc2VjLVhY>") == "<aGgtc2VjLVhY>"


def test_url_encoded_forms_encode_the_slash_and_both_space_forms(fresh_registry):
    """A secret with `/` and a space, URL-encoded by a client (`%2F`, and `%20` or `+`), is masked in
    both encodings."""
    register_secret("hh/se cret")
    assert redact("p=hh%2Fse%20cret&x") == f"p={MASK}&x"
    assert redact("p=hh%2Fse+cret&x") == f"p={MASK}&x"
    assert redact("p=hh/se cret&x") == f"p={MASK}&x"


def test_a_form_of_exactly_six_characters_is_masked(fresh_registry):
    """Six characters is the shortest credential: its plain form is masked, not only its base64."""
    register_secret("zq9x7w")
    assert redact("key=zq9x7w.") == f"key={MASK}."


def test_env_credentials_are_registered_by_value(fresh_registry, monkeypatch):
    """A credential env var's value is what gets masked (the instance's database password in a log)."""
    monkeypatch.setenv("HH_MUTANT_TOKEN", "hh-env-value-1")
    register_secret_env()
    assert redact("<hh-env-value-1>") == f"<{MASK}>"
    assert "hh-env-value-1" in redaction._secrets


@pytest.mark.parametrize("text,out", [
    ("see https://h.example.com now", "see https://h.example.com now"),
    ("see https://u:p@h.example.com now", f"see https://{MASK}@h.example.com now"),
    ("GET https://h.example.com/p?a=1?b=2 x", f"GET https://h.example.com/p?{MASK} x"),
    ("GET https://h.example.com?a=1?b=2 x", f"GET https://h.example.com?{MASK} x"),
], ids=["no-path-no-query", "no-path-userinfo", "path-two-queries", "no-path-two-queries"])
def test_a_query_is_cut_at_its_first_question_mark_and_only_when_there_is_one(text, out):
    """Everything after the first `?` may hold a token (a second `?` is part of the query); a URL
    without a query keeps its host and gets no `?***` added."""
    assert redact(text) == out
