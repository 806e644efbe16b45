"""Secrets in the forms Azure prints them are replaced by tokens; the evidence around them stays readable.

The full corpus (tests/fixtures/secrets/contexts.yaml) is checked in tests/test_redact_corpus.py;
here are the mechanisms: tokens, counting, objects, user patterns, --anonymize.
"""

import json
from pathlib import Path

import pytest

from aml_doctor.evidence import redact
from aml_doctor.cli.config import ConfigError, parse_config
from aml_doctor.evidence.redact import TOKEN_RE, redact_object, redact_text

KEY = "q8W3mZ0vXr5tLk2Jp7Yc9Hn4Bd6Fg1Sa3Ue8Wi0Oy5Tr2Qe7Lx9Mz4Nc6Vb1Hj3Kd8Pf0Ga5Sd2Rt7Yu9Iw4Eo=="
SCORING_KEY = "Kp4nJ8sV2xLq7Rw3Zt9Hb6Yc1Fm5Dg0a"


@pytest.fixture(autouse=True)
def fresh_run():
    redact.reset()
    yield
    redact.reset()


@pytest.mark.parametrize(
    "text, secret",
    [
        (f"DefaultEndpointsProtocol=https;AccountName=amlws1storage;AccountKey={KEY};EndpointSuffix=core.windows.net", KEY),
        ("https://acct.blob.core.windows.net/azureml/ImageLogs/x/build.log?sv=2019-07-07&sr=b&sig=Qm9ndXNTaWc%2BAbC%3D&se=2021", "Qm9ndXNTaWc%2BAbC%3D"),
        (f"\tAuthorization: Bearer {SCORING_KEY}", SCORING_KEY),
        ("token=eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwcyJ9.c2lnbmF0dXJlLW5vdC1yZWFs", "eyJhdWQiOiJodHRwcyJ9"),
        ("InstrumentationKey=0b8f8a3e-5c1d-4a9e-8f2b-6d7c1e2a3b4c;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/", "0b8f8a3e-5c1d"),
        ('{"primaryKey": "Xy7Vb2Nq9Lm4Kp0Rt5Ws8Ze3Ua6Yc1H"}', "Xy7Vb2Nq9Lm4Kp0Rt5Ws8Ze3Ua6Yc1H"),
        ("AZUREML_STORAGE_PASSWORD=Tr0ub4dor", "Tr0ub4dor"),
        (f"the key {KEY} was rotated", KEY),
        (f"('{SCORING_KEY}', 'Xy7Vb2Nq9Lm4Kp0Rt5Ws8Ze3Ua6Yc1H')", SCORING_KEY),
    ],
    ids=["connection-string", "sas", "bearer", "jwt", "app-insights", "json-key", "password", "bare-account-key", "get-keys"],
)
def test_secret_forms_become_tokens(text, secret):
    out = redact_text(text)
    assert secret not in out and TOKEN_RE.search(out)


@pytest.mark.parametrize(
    "text",
    [
        'failed to pull image "acr.azurecr.io/azureml/azureml_0123": failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized',
        "failed to fetch anonymous token: unexpected status: 403 Forbidden",
        "Listening at: http://127.0.0.1:31311 (71)",
        "ERROR: Could not find a version that satisfies the requirement dotnetcore2>=2.1.9",
        "Basic authentication failed for the registry",
        'FATAL:  password authentication failed for user "mladmin"',
        "docker run -p 8080:80 -e AML_APP_ROOT=/var/azureml-app scorer",
        '{"name": "AZUREML_MODEL_DIR", "valueFrom": {"configMapKeyRef": {"key": "AZUREML_MODEL_DIR", "name": "scorer-config"}}}',
        "tolerations: key: node.kubernetes.io/not-ready operator: Exists",
        "Back-off restarting failed container scorer in pod scorer-7c9d5b6f8d-x2k9q",
        'MountVolume.SetUp failed for volume "azureml-secret-volume" : secret "azureml-ws1-sp" not found',
    ],
)
def test_evidence_that_only_mentions_secrets_stays_readable(text):
    assert redact_text(text) == text


def test_the_same_secret_reads_as_the_same_token_in_every_form_and_place():
    redact.configure(salt=b"fixed for this test")
    plain = redact_text(f"AccountKey={KEY};")
    encoded = redact_text("AccountKey%3D" + KEY.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D") + "%3B")
    in_json = json.dumps(redact_object({"accountKey": KEY}))
    token = TOKEN_RE.search(plain).group(0)
    assert token in encoded and token in in_json
    other = TOKEN_RE.search(redact_text("AccountKey=" + KEY.replace("q8", "r9") + ";")).group(0)
    assert other != token


def test_tokens_are_salted_per_run():
    redact.configure(salt=b"run one")
    first = redact_text(f"AccountKey={KEY};")
    redact.configure(salt=b"run two")
    second = redact_text(f"AccountKey={KEY};")
    assert first != second
    redact.reset()  # a real run draws its salt at random
    assert TOKEN_RE.fullmatch(redact_text(f"AccountKey={KEY}").split("=", 1)[1])


def test_a_second_pass_leaves_tokens_alone():
    once = redact_text(f"password={KEY} and sig=abcdefgh12345678")
    assert redact_text(once) == once
    # Escaped as the HTML and Markdown renderers escape it, a token is still not a secret.
    escaped = once.replace("<", "&lt;").replace(">", "&gt;")
    assert redact_text(escaped) == escaped


def test_counts_per_kind_and_rule_are_recorded_never_values():
    with redact.counting() as tally:
        redact_text(f"AccountKey={KEY}; Authorization: Bearer {SCORING_KEY}; password=Tr0ub4dor&3")
        redact_object({"env": [{"name": "ACR_PASSWORD", "value": "hunter2hunter2"}]})
    summary = tally.summary()
    assert summary.total == 4
    # The env entry counts under its name's kind, and under the rule for named fields.
    assert dict(summary.kinds)["account-key"] == 1 and dict(summary.kinds)["password"] == 2
    assert "named-value" in dict(summary.rules) and "named-field" in dict(summary.rules)
    text = json.dumps(tally.as_dict())
    assert KEY[:8] not in text and "hunter2" not in text and "Tr0ub4dor" not in text


def test_objects_keep_the_names_of_secrets_and_lose_their_values():
    pod = {
        "env": [{"name": "AZUREML_STORAGE_KEY", "value": "abc123def456"}, {"name": "AML_APP_ROOT", "value": "/var/azureml-app"},
                {"name": "acrPass", "value": "Zq9Xw8Yv7Uu6"}, {"name": "DB_URL", "value": "postgresql://admin:S3cr3tP4ss@db:5432/app"}],
        "volumes": [{"secret": {"secretName": "azureml-storage-secret"}}],
        "password": "hunter22",
    }
    redact_object(pod)
    env = {e["name"]: e["value"] for e in pod["env"]}
    assert TOKEN_RE.fullmatch(env["AZUREML_STORAGE_KEY"]) and TOKEN_RE.fullmatch(env["acrPass"])
    assert env["AML_APP_ROOT"] == "/var/azureml-app"
    assert "S3cr3tP4ss" not in env["DB_URL"] and env["DB_URL"].startswith("postgresql://admin:")
    assert pod["volumes"][0]["secret"]["secretName"] == "azureml-storage-secret"
    assert TOKEN_RE.fullmatch(pod["password"])


def test_a_node_shared_many_times_is_redacted_once():
    # What a YAML alias bomb builds: one list referenced from every level.
    leaf = {"password": "hunter22hunter22"}
    node = [leaf] * 10
    for _ in range(12):
        node = [node] * 10  # 10**13 paths to the leaf; one object
    with redact.counting() as tally:
        redact_object({"items": node})
    assert tally.total == 1 and TOKEN_RE.fullmatch(leaf["password"])


def test_deep_nesting_does_not_overflow():
    doc: list = ["password=hunter22hunter22"]
    for _ in range(100_000):
        doc = [doc]
    redact_object(doc)


def test_configured_patterns_redact_and_are_named_by_position(tmp_path):
    cfg = parse_config(str(tmp_path / "pyproject.toml"), {"redact": [r"ACME-[0-9A-F]{16}", r"tenant-secret:(\S{8,64})"]})
    redact.configure(patterns=cfg.redact)
    with redact.counting() as tally:
        out = redact_text("license ACME-0123456789ABCDEF ok; tenant-secret:zz9plural.alpha done")
    assert "ACME-0123" not in out and "zz9plural" not in out and "tenant-secret:" in out
    rules = dict(tally.summary().rules)
    assert rules["configured-1"] == 1 and rules["configured-2"] == 1  # by position, never by the pattern text


@pytest.mark.parametrize("patterns, message", [
    (["(unclosed"], "not a regular expression"),
    (["(a+)+b"], "exponential"),
    (["x*"], "empty string"),
    ("ACME", None),  # one string is a list of one
])
def test_bad_configured_patterns_are_one_config_error(tmp_path, patterns, message):
    if message is None:
        assert parse_config("p", {"redact": patterns}).redact == ["ACME"]
        return
    with pytest.raises(ConfigError, match=message):
        parse_config(str(tmp_path / "pyproject.toml"), {"redact": patterns})


def test_anonymize_replaces_ids_names_and_ips_consistently():
    from aml_doctor.evidence.redaction_anonymize import anonymize_text, learn_names, learn_text

    sub, tenant = "6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b", "72f988bf-86f1-41af-91ab-2d7cd011db47"
    text = (
        f"/subscriptions/{sub}/resourceGroups/ml-prod-rg/providers/Microsoft.MachineLearningServices/workspaces/fraud-ws\n"
        f"tenant {tenant}; https://fraudstore01.blob.core.windows.net/azureml; node 10.240.0.4 and 127.0.0.1\n"
        "pulling fraudacr01.azurecr.io/azureml/azureml_0123; AccountName=fraudstore01; pod in azureml-fraud-ws\n"
    )
    learn_names("resource", ["azureml-fraud-ws"])
    learn_text(text)
    with redact.counting() as tally:
        out = anonymize_text(text)
    for identifier in (sub, tenant, "ml-prod-rg", "fraud-ws", "fraudstore01", "fraudacr01", "10.240.0.4"):
        assert identifier not in out, identifier
    assert "127.0.0.1" in out  # loopback identifies nobody
    store = redact.token("fraudstore01", "account")
    assert out.count(store) == 2  # the same account, the same placeholder, in the URL and in AccountName=
    assert anonymize_text(text) == out  # consistent across calls in a run
    assert set(tally.anonymized) == {"id", "ip", "account", "resource"}


IDENTIFIERS = ("sentiment-api", "nlp-prod-ws", "nlpprodst3a7c90")
SCENARIO = Path(__file__).parent / "scenarios" / "mount-blobfuse-403"


@pytest.mark.parametrize("fmt", ["text", "md", "html", "json", "sarif", "junit"])
def test_analyze_anonymize_leaves_no_name_in_any_format(fmt, capsys):
    from aml_doctor.cli import main as cli

    bundle = str(SCENARIO)
    cli.main(["analyze", bundle, "-o", fmt, "--fail-on", "never"])
    plain = capsys.readouterr().out
    assert any(name in plain for name in IDENTIFIERS), plain  # the names are there to hide
    cli.main(["analyze", bundle, "-o", fmt, "--fail-on", "never", "--anonymize"])
    out = capsys.readouterr().out
    assert [name for name in IDENTIFIERS if name in out] == []
    assert "Blob volume cannot be mounted" in out  # the diagnosis does not change
    if fmt == "json":
        counts = {k["kind"]: k["count"] for k in json.loads(out)["redaction"]["anonymized"]}
        assert counts["resource"] > 0 and counts["account"] > 0 and counts["id"] > 0


def test_configured_patterns_apply_to_a_cli_run(tmp_path, monkeypatch, capsys):
    from aml_doctor.cli import main as cli

    (tmp_path / ".aml-doctor.toml").write_text('redact = ["ACME-[0-9A-F]{16}"]\n')
    pasted = tmp_path / "pasted.txt"
    pasted.write_text("Traceback (most recent call last):\n  File \"/var/azureml-app/score.py\", line 3, in init\n"
                      "RuntimeError: license ACME-0123456789ABCDEF rejected\n")
    monkeypatch.chdir(tmp_path)
    cli.main(["analyze", "--text", str(pasted), "-o", "json", "--fail-on", "never"])
    out = capsys.readouterr().out
    assert "ACME-0123" not in out
    assert {"rule": "configured-1", "count": 1} in json.loads(out)["redaction"]["rules"]


def test_a_bad_configured_pattern_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    from aml_doctor.cli import main as cli

    (tmp_path / ".aml-doctor.toml").write_text('redact = ["(a+)+$"]\n')
    monkeypatch.chdir(tmp_path)
    assert cli.main(["analyze", str(SCENARIO)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "redact pattern 1" in err and "Traceback" not in err


def test_real_evidence_loses_only_its_secrets():
    """Over-redaction hides evidence: across every scenario bundle, rule case and real-world
    corpus case, the only values redaction replaces are the SAS signatures they hold."""
    root = Path(__file__).parents[1]
    paths = [p for pattern in ("tests/scenarios/**/*", "tests/cases/*.yml", "doctor/knowledge/cases/**/*")
             for p in root.glob(pattern) if p.is_file() and p.suffix in (".json", ".txt", ".log", ".yml", ".yaml", ".md")]
    assert len(paths) > 100
    replaced = []
    for path in paths:
        text = path.read_text(errors="replace")
        for start, end, kind, rules in redact.secret_spans(text):
            if text[max(0, start - 4):start] != "sig=":
                replaced.append((str(path.relative_to(root)), text[max(0, start - 40):end]))
    assert replaced == []


def test_a_bearer_token_pasted_already_redacted_is_left_as_it_is():
    # A corpus case's line (gaganmanku96's capstone notebook): the key was replaced by <redacted> in the paste.
    pasted = "headers = {'Content-Type': 'application/json', 'Authorization': 'Bearer <redacted>'}"
    assert redact.secret_spans(pasted) == []
    real = "headers = {'Content-Type': 'application/json', 'Authorization': 'Bearer Zk3h9QvT2mP8xL4wR7nB1cY6dE5fG0aS'}"
    assert [kind for _, _, kind, _ in redact.secret_spans(real)] == ["authorization"]


def test_the_two_keys_get_keys_prints_are_redacted_and_a_list_of_two_names_is_not():
    # service.get_keys() returns (primary, secondary); these two are random, made for this test.
    keys = "('Zq3vT8mKp1sW9xYb2NcR7dLf4GhJ6aEu', 'Hn5bV2cX8zLq1wE4rT7yU0iO3pA6sD9f')"
    out = redact_text(f"print(service.get_keys())\n{keys}")
    assert "Zq3vT8mKp1sW9xYb2NcR7dLf4GhJ6aEu" not in out and "Hn5bV2cX8zLq1wE4rT7yU0iO3pA6sD9f" not in out
    # onnxruntime's providers, as the fix of mlflow#5308 lists them.
    providers = "retry with providers (default\n  ['CUDAExecutionProvider', 'CPUExecutionProvider'])"
    assert redact_text(providers) == providers


def test_a_code_that_identifies_an_error_stays_and_a_login_code_goes():
    # The managed endpoint's 424 body, as a committed notebook printed it (corpus case
    # udacityc2-nazeer2013-managed-424-forecasting-dates-before-training).
    body = '"inner_error": {\n    "code": "BadData"\n},\n"reference_code": "9aa1211b-115a-474c-b522-c1170ae8c8b3"'
    assert redact.secret_spans(body) == []
    # A code that is a credential still goes (random, made for this test).
    login = '"auth_code": "Qm7vX2pL9sK4wT8zN1cR5yB3"'
    assert [kind for _, _, kind, _ in redact.secret_spans(login)] != []
    assert "Qm7vX2pL9sK4wT8zN1cR5yB3" not in redact_text(login)
