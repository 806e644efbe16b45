"""Each form real users paste, diagnosed to the category its thread established. Every input is a
case of the real-world corpus, verbatim (doctor/knowledge/cases/<id>.yml), pasted alone."""

from __future__ import annotations

import pytest

from aml_doctor.knowledge import corpus
from aml_doctor.engine import measure
from aml_doctor.engine.plugins import load_plugins

RULES = load_plugins().rules
CASES = {c.id: c for c in corpus.load_cases()}

FORMS = [
    ("a bare exception line from get_logs(), no Traceback header", "inferenceserver-98-distutils-python312", "dependency_version_conflict"),
    ("a bare ModuleNotFoundError pasted alone", "azure-sdk-python-19818-local-azureml-studio-missing", "entry_script_import_error"),
    ("a v1 error JSON cut off mid-way, its details naming the cause", "azuredevopslabs-562-aci-ruamel-missing", "entry_script_import_error"),
    ("v2 '(None) message' wrapper", "churn-azureml-tsg-mlflow-post-body-not-dict", "entry_script_run_error"),
    ("az CLI 'ERROR: (Code) message' wrapper", "llmopsghademo-8-sp-roleassignment-authorizationfailed", "auth_error"),
    ("an error JSON with literal \\n escapes in its message", "ai900-10-designer-endpoint-input-schema-400", "entry_script_run_error"),
    ("an extension-install error", "vijayrod-demo-extension-type-not-registered-in-region", "cluster_or_compute_unhealthy"),
    ("a Kubernetes-compute error sentence", "msdocs-k8scompute-nokubernetesconfiguration", "cluster_or_compute_unhealthy"),
    ("a scoring-time 502 caused by a missing package", "azureml-examples-4008-mlflow-azureml-ai-missing", "entry_script_import_error"),
    ("a scoring-time 504 from the SDK", "azuredocs-24319-aci-504-client-timeout", "gateway_timeout_or_router_error"),
    ("a kubelet 401 from the registry", "msdocs-aks-acr-pull-401-unauthorized", "image_pull_failure"),
    ("a client-side SDK import failure", "azsdkpy-40575-marshmallow4-import-error", "other"),
    ("a bare SIGKILL line, outside any build", "learn-v1-troubleshoot-deploy-sigkill-memory", "oom_killed"),
    ("a bare v2 InternalServerError", "msdocs-oe-internalservererror", "other"),
    ("run()'s exception returned as the scoring response", "mlnotebooks-45-automl-run-numpy-vs-pandas-column-error", "entry_script_run_error"),
    ("a blobfuse mount error pasted alone", "msdocs-aks-blobfuse-errno-404-container-missing", "volume_mount_failure"),
    ("the scheduler's message pasted alone", "msdocs-aks-scheduler-untolerated-taint", "insufficient_resources_unschedulable"),
    ("a browser's CORS block", "msdocs-oe-blocked-by-cors-policy", "other"),
    ("a v2 BadArgument: the endpoint identity cannot pull", "briglx-mlflow-server-badargument-acr-pull", "image_pull_failure"),
    ("a 409 from a second operation on the same endpoint", "carnegiemop-aml-endpoint-tsg-operationduplicationconflict", "other"),
    ("an exception quoted as Markdown inline code in prose", "docusense-readme-managed-score-artifact-joblib-model-dir-subfolder", "model_not_found"),
    ("a FileNotFoundError whose message says the model is not found", "tarik-mlopsplatform-doc-managed-model-joblib-under-model-output", "model_not_found"),
    ("a FailedCreate event naming a failing admission webhook", "sparebankenvest-helmcharts-3-akv-env-injector-webhook-failed-calling", "cluster_or_compute_unhealthy"),
    ("a FailedCreate event of a policy's admission webhook", "mslearn-aks-governance-gatekeeper-failedcreate-allowed-images", "other"),
    ("a policy message about the cluster's load balancer", "msdocs-v1-create-attach-aks-load-balancers-no-public-ip-policy", "other"),
    ("a scoring-time 401 (the v2 status table's row)", "msdocs-oe-http-401-unauthorized", "auth_error"),
]


@pytest.mark.parametrize("form,case_id,category", FORMS, ids=[f[1] for f in FORMS])
@pytest.mark.parametrize("shape", measure.FORMS)
def test_real_form_is_diagnosed_to_its_established_category(form, case_id, category, shape):
    case = CASES[case_id]
    assert case.category == category, "the expectation is the corpus label"
    report = measure.diagnose(case, shape, RULES, None)
    causes = [r.finding for r in report.findings if not r.finding.is_symptom]
    assert causes, f"{form}: no cause found ({report.verdict.value})"
    assert causes[0].category.value == category, f"{form}: {causes[0].rule} {causes[0].title}"


@pytest.mark.parametrize("shape", measure.FORMS)
def test_a_bare_scoring_503_lists_the_router_first_among_its_possible_causes(shape):
    # A 503 alone is a symptom: no rule claims a cause, and the base rates (its own thread left out)
    # rank the router's overload first, as both troubleshooting pages' status tables read it.
    case = CASES["msdocs-oe-k8s-http-503-request-spikes"]
    report = measure.diagnose(case, shape, RULES, measure.knowledge_without(list(CASES.values()), case.thread))
    assert report.verdict.value == "unrecognised"
    assert not [r for r in report.findings if not r.finding.is_symptom]
    assert report.possible_causes[0].category.value == "gateway_timeout_or_router_error"


def test_a_client_side_failure_gets_a_client_fix_not_a_redeploy():
    report = measure.diagnose(CASES["azsdkpy-40575-marshmallow4-import-error"], "text", RULES, None)
    first = report.findings[0].finding
    assert first.rule == "AML024"
    text = " ".join((first.fix.summary, *first.fix.steps))
    assert "marshmallow" in text and "Model.deploy" not in text and "online-deployment update" not in text


def test_v2_evidence_gets_v2_commands_and_v1_evidence_v1_commands():
    import aml_doctor.evidence.store as evidence_mod
    from aml_doctor.engine.runner import analyze

    v2 = b"HttpResponseError: (UserError) deployment failed\nModuleNotFoundError: No module named 'sklearn'\n"
    v1 = b"WebserviceException: Error in entry script\nModuleNotFoundError: No module named 'sklearn'\n"
    fixes = {}
    for name, text in (("v2", v2), ("v1", v1)):
        report = analyze(evidence_mod.from_texts([("p.txt", text)]), RULES)
        f = next(r.finding for r in report.findings if r.finding.rule == "AML004")
        fixes[name] = " ".join((f.fix.summary, *f.fix.steps, *f.fix.verify))
    assert "az ml online-deployment" in fixes["v2"] and "Model.deploy" not in fixes["v2"]
    assert "Model.deploy" in fixes["v1"] and "az ml online-deployment" not in fixes["v1"]
    # The import name is sklearn; the distribution to install is scikit-learn.
    assert "scikit-learn" in fixes["v1"] and "- sklearn" not in fixes["v1"]


def test_a_prompt_flow_node_failure_is_v2_and_gets_v2_commands():
    # mslearn-ai-studio#22 verbatim: a deployed flow's node failure names no SDK, but flows deploy to v2 endpoints only.
    report = measure.diagnose(CASES["mslearnaistudio-22-pf-endpoint-pydantic-typeerror"], "text", RULES, None)
    first = report.findings[0].finding
    assert report.platform == "managed_online_v2"
    assert (first.rule, first.category.value) == ("AML013", "entry_script_run_error")
    steps = " ".join(first.fix.steps)
    assert "pf flow test" in steps and "az ml online-deployment get-logs" in steps and "service.get_logs" not in steps


WRONG_FIXES = [
    # kubelet pull events are a pull failure, never a build failure (Azure/acr#231, verbatim)
    ("acr-231-aks-pull-wrong-service-principal", "AML006", "image_pull_failure", ""),
    # a containerd 401 gets --attach-acr, not the firewall (the AKS troubleshooting article's text)
    ("msdocs-aks-acr-pull-401-unauthorized", "AML006", "image_pull_failure", "--attach-acr"),
    # v2 "OutOfQuota: Kubernetes unschedulable ... Too many pods" is cluster capacity, not a quota
    ("learn-troubleshoot-online-k8s-outofquota-too-many-pods", "AML009", "insufficient_resources_unschedulable", ""),
]


@pytest.mark.parametrize("case_id,rule,category,fix_has", WRONG_FIXES, ids=[w[0] for w in WRONG_FIXES])
def test_fixes_that_used_to_be_wrong(case_id, rule, category, fix_has):
    report = measure.diagnose(CASES[case_id], "text", RULES, None)
    first = report.findings[0].finding
    assert (first.rule, first.category.value) == (rule, category), first.title
    if fix_has:
        assert fix_has in " ".join((first.fix.summary, *first.fix.steps))
    if rule == "AML006":
        assert all(r.finding.rule != "AML001" for r in report.findings)


def test_a_build_log_the_error_names_becomes_the_download_command():
    import aml_doctor.evidence.store as evidence_mod
    from aml_doctor.engine.runner import analyze

    # The form the v2 troubleshooting page prints (MicrosoftDocs/azure-docs#91296), with example values.
    text = (b'ERROR: ImageBuildFailure\nThe build log is available in the workspace blob store "mlstore0421" '
            b'under the path "/azureml/ImageLogs/6c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f/build.log"\n')
    report = analyze(evidence_mod.from_texts([("p.txt", text)]), RULES)
    first = report.findings[0].finding
    assert first.rule == "AML001" and "not in the evidence" not in first.title
    assert ("az storage blob download --account-name mlstore0421 -c azureml "
            "-n 'ImageLogs/6c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f/build.log'") in first.fix.steps[0]


# Exceptions raised on the user's machine, not in the scoring container: a KeyError handled inside
# the MLflow deployment client (mlflow#5588), and a script run by hand on a compute instance
# (DeepSpeed-MII#184). Neither is a failed start of the scoring server.
CLIENT_RAISED = ["mlflow-5588-get-deploy-client-local-tracking-uri-no-plugin", "deepspeedmii-184-aml-deploy-keyerror-bloom-old-transformers"]


@pytest.mark.parametrize("case_id", CLIENT_RAISED)
@pytest.mark.parametrize("shape", measure.FORMS)
def test_an_exception_raised_on_the_user_s_machine_is_not_the_server_s_start(case_id, shape):
    report = measure.diagnose(CASES[case_id], shape, RULES, None)
    assert not [r for r in report.findings if r.finding.rule == "AML004"], [r.finding.title for r in report.findings]
    assert report.verdict.value == "unrecognised"


def test_the_server_s_wrapper_still_points_at_the_exception_it_wraps():
    # The inference server's wrapper chained after the user's KeyError (`raise UserScriptImportException(ex)
    # from ex`, azureml-inference-server-http's user_script.py), its frames cut: the KeyError is the cause.
    from aml_doctor.knowledge.corpus import Case

    text = (
        "KeyError: 'MODEL_PATH'\n\nThe above exception was the direct cause of the following exception:\n\n"
        "azureml_inference_server_http.server.user_script.UserScriptImportException: Failed to import user script because it raised an unhandled exception\n"
    )
    case = Case(id="x", source="https://x", source_kind="docs", target="unknown", channel="get_logs", category="entry_script_init_error",
                control=False, confirmed=True, established_by="docs", cause="", fix="", evidence=text)
    report = measure.diagnose(case, "text", RULES, None)
    assert report.findings and report.findings[0].finding.rule == "AML004"
    assert "KeyError: 'MODEL_PATH'" in report.findings[0].finding.title
