"""Base rates per symptom (knowledge/priors.py, knowledge/symptoms.yml): what a symptom is read as,
and how a symptom's own reading weighs against the real cases that showed it."""

from __future__ import annotations

from aml_doctor.knowledge import corpus, priors
from aml_doctor.knowledge.corpus import Case


def _case(category: str, evidence: str, n: int) -> Case:
    return Case(
        id=f"c{n}", source=f"https://github.com/o/r/issues/{n}", source_kind="github_issue", target="unknown",
        channel="prose", category=category, control=False, confirmed=True, established_by="reporter_fix",
        cause="", fix="", evidence=evidence,
    )


def test_a_tie_between_real_cases_goes_to_what_the_symptom_names():
    cases = [
        _case("dependency_version_conflict", "ModuleNotFoundError: No module named 'sklearn.ensemble._forest'", 1),
        _case("entry_script_import_error", "ModuleNotFoundError: No module named 'rpy2'", 2),
    ]
    shares = priors.build(cases).shares({"missing-module"})
    assert shares["entry_script_import_error"] == 2 / 3
    assert shares["dependency_version_conflict"] == 1 / 3


def test_the_real_cases_still_outvote_the_reading():
    cases = [_case("dependency_version_conflict", "No module named 'sklearn.externals.joblib'", n) for n in range(3)]
    shares = priors.build(cases).shares({"missing-module"})
    assert max(shares, key=shares.get) == "dependency_version_conflict"
    assert priors.build(cases).real_count({"missing-module"}, "entry_script_import_error") == 0


def test_a_symptom_no_real_case_showed_still_points_at_its_reading():
    assert priors.build([]).shares({"quota"}) == {"quota_exceeded": 1.0}
    assert priors.build([]).shares({"deployment-timed-out"}) == {}



def test_a_specific_symptom_is_not_drowned_by_a_generic_one():
    # Five crashes caused by a missing module, one by an exception in init(): a crash that also
    # shows init() raising reads as init()'s error, though "crashed" alone has more cases.
    cases = [_case("entry_script_import_error", "Your container application crashed.", n) for n in range(5)]
    cases.append(_case("entry_script_init_error", "Your container application crashed after an exception in init()", 9))
    shown = priors.symptoms_in("The container crashed: an exception in init() stopped it")
    assert shown == {"container-crashed", "init-exception"}
    shares = priors.build(cases).shares(shown)
    assert max(shares, key=shares.get) == "entry_script_init_error"
    assert round(sum(shares.values()), 9) == 1

def test_authentication_at_a_registry_is_read_apart_from_the_caller_s():
    # Lines from corpus cases: a kubelet pull (an ACR 401) and a scoring key told in prose (MLOpsPython#269).
    pull = "Error response from daemon: Get https://acrname.azurecr.io/v2/preprocess/manifests/latest: unauthorized: authentication required"
    caller = "The issue was with the web service authentication - they weren't sure how to access the authentication key"
    assert priors.symptoms_in(pull) >= {"registry-auth"} and "auth" not in priors.symptoms_in(pull)
    assert "auth" in priors.symptoms_in(caller) and "registry-auth" not in priors.symptoms_in(caller)


def test_symptoms_told_in_prose_are_read():
    # Each line is from a corpus case's evidence.
    told = {
        "When creating k8s extension in AKS, it shows error as below.": "extension-install",
        "But when I try to build it that fails.": "build-failed",
        "The latests version of  `az cli` on the Ubuntu agents (`2.30.0`) breaks when running `az ml` commands.": "client-broke",
        "in these tutorials scikit version is not fixed and a different version is used at different places": "version-mismatch",
        "I understand I finished my quotas, but what I do not understand is": "quota",
        "This happens when container initialization is taking too long.": "slow-start",
        "Image built based on the prebuilt Docker image can't boot up": "custom-image-wont-start",
        "init() or run() failing to write a file": "write-failed",
        "Booting worker with pid: 41\nBooting worker with pid: 57": "worker-rebooting",
        "ImportError: cannot import name 'url_quote' from 'werkzeug.urls'": "cannot-import-name",
        "A 502 status code indicates that the service has thrown an exception or crashed in the `run()` method": "http-502",
        "ResourceNotReady: User container has crashed or terminated: Liveness probe failed: HTTP probe failed with statuscode: 502": "probe-502",
        "Reason: Worker failed to boot.": "worker-failed-to-boot",
        "MLflow models trained in Python 2 cannot be deployed to Azure ML for realtime serving.": "python-version",
        "Latest pip resolver struggles to resolve your not pinned dependencies.": "dependency-resolution",
        "If the model file or folder can't be found, the function fails.": "model-file-missing",
        "If there are uncaught exceptions in the `init()` function, you might see CrashLoopBackOff": "init-exception",
        "I gave the webservice more RAM and it seems to work now": "memory",
        "This version upgrade was required as model deployment was failing due to pydantic validation error.": "version-mismatch",
        "Versions >=1.4 of the inference server removed the buggy patch path but dropped Python 3.8 support": "python-version",
        "ImportError: cannot import name 'FieldInstanceResolutionError' from 'marshmallow.utils'": "client-import-clash",
        '## Lack authorization to perform action "Microsoft.MachineLearningService/workspaces/datastores/read"': "auth",
        'If you encounter an error like "Access denied to list workspace secret", check whether': "auth",
        'The full error message is: "UserErrorFromQuotaService: Simultaneous count exceeded for subscription."': "quota",
        "caused the container to continually reboot (due to low memory), resulting in failed deployments": "memory",
        "Aci Deployment failed with exception: Error in entry script, ImportError: cannot import name 'joblib', please run": "cannot-import-name",
        "A required package azureml-inference-server-http is missing.": "missing-module",
        "----> 1 ml_client.online_deployments.begin_create_or_update(blue_deployment,local=True).result()\nCell In[19], line 1": "client-traceback",
        'MlflowException: No plugin found for managing model deployments to "http".': "client-traceback",
        "* Mistake: Sent flat JSON (feature dict) to endpoint → got `424 Failed Dependency` and": "http-424",
        "| 502         | Exception or crash in the `run()` method of the *score.py* file |": "run-exception",
        "Deployment config changed from 1CPU/4GB to 0.5CPU/2GB so it fits a AKS created with default parameters": "resources-do-not-fit",
        "changed cloudpickle version to fix bug where there was an error during deployment of blue endpoint": "version-mismatch",
        "(from 2.6.0 to 2.2.1)": "version-mismatch",
        "Pin scikit learn version to 1.2.2 to fix cli-scripts-deploy-moe-inference-schema (#2849)": "version-mismatch",
        "(Azure changed default to RBAC, causing access policies to be": "auth",
        "Fix EOL images and keyvault RBAC authorization": "key-vault-access",
        "Added 'ruamel.yaml' module to dependencies to fix timeout/deployment …": "missing-module",
        "You need to [add this package](https://github.com/liupeirong/amlv2_mlflow_t": "missing-module",
        "The deployment of the ACI fails due to restrictions put in place by the cloud slice governance.": "policy-blocked",
        "Either fix the policy or remove the policy assignment to unblock.": "policy-blocked",
        "This message is returned when an administrator has applied a policy that prevents using an AKS cluster": "policy-blocked",
        "WebserviceException('Received bad response from Model Management Service:\\nResponse Code: 500\\nHeaders:": "v1-service-500",
    }
    for text, symptom in told.items():
        assert symptom in priors.symptoms_in(text), text
    # pip's resolver in its own words, as pasted in oemof/oemof-tabular#133.
    pip = (
        "ERROR: Cannot install oemof-tabular==0.0.0, oemof-tabular==0.0.1, oemof-tabular==0.0.3 and oemof-tabular==0.0.4 "
        "because these package versions have conflicting dependencies.\nThe conflict is caused by:"
    )
    assert "dependency-resolution" in priors.symptoms_in(pip)


def test_near_misses_are_not_symptoms():
    assert priors.symptoms_in("Scaled up replica set recsys-ranker-tr2ks7vqp to 1") == set()
    assert "build-failed" not in priors.symptoms_in("Successfully built 3f1a2b and pushed the image")
    assert "quota" not in priors.symptoms_in("OutOfQuota: Kubernetes unschedulable")
    assert "missing-module" not in priors.symptoms_in("ImportError: cannot import name 'url_quote' from 'werkzeug.urls'")
    # A clash inside the SDK on the user's machine is not the scoring container's, and the reverse.
    assert "cannot-import-name" not in priors.symptoms_in("ImportError: cannot import name 'FieldInstanceResolutionError' from 'marshmallow.utils'")
    assert "client-import-clash" not in priors.symptoms_in("ImportError: cannot import name 'url_quote' from 'werkzeug.urls'")
    assert "python-version" not in priors.symptoms_in("The image uses Python 3.8 and numpy 1.24")
    assert "auth" not in priors.symptoms_in("The request carries the authorization header as the docs show")
    assert "cannot-import-name" not in priors.symptoms_in(
        "ImportError: cannot import name 'helper' from partially initialized module 'utils' (most likely due to a circular import)"
    )
    # azureml-core's harmless start-up warning in a healthy AutoML service (a corpus case's log line).
    assert "cannot-import-name" not in priors.symptoms_in(
        "Failure while loading azureml_run_type_providers. Failed to load entrypoint automl = "
        "azureml.train.automl.run:AutoMLRun._from_run_dto with exception cannot import name 'RunType'."
    )
    # A notebook cell that only relays the service's failure (v1 wait_for_deployment) is not a client-side one.
    relayed = (
        "WebserviceException                       Traceback (most recent call last)\n<ipython-input-7-3a6f> in <module>\n"
        "Service deployment polling reached non-successful terminal state, current service state: Unhealthy"
    )
    assert "client-traceback" not in priors.symptoms_in(relayed)
    # A probe's 424 is the probe's; a run() that succeeded is not a failure; a model that fits is no shortage.
    assert "http-424" not in priors.symptoms_in("Readiness probe failed: HTTP probe failed with statuscode: 424")
    assert "run-exception" not in priors.symptoms_in("run() returned the predictions in 80 ms")
    assert "resources-do-not-fit" not in priors.symptoms_in("The model fits in memory on a Standard_DS3_v2")
    # A probe's 502 is not a scoring 502.
    assert "http-502" not in priors.symptoms_in("Liveness probe failed: HTTP probe failed with statuscode: 502")
    # A probe named is not a probe failed: the inference server's healthy banner (a corpus control's
    # line) and a deployment's settings name the probes; a probe that failed is still read.
    assert "probe-failed" not in priors.symptoms_in("Liveness Probe: GET   127.0.0.1:5001/")
    assert "probe-failed" not in priors.symptoms_in("readinessProbe     : initialDelay PT2M20S, period PT30S, failureThreshold 10")
    assert "probe-failed" in priors.symptoms_in("If 424 comes with liveness or readiness probe failing, consider adjusting ProbeSettings")
    # A node too small for the memory request is scheduling (AML009's), not the container's memory.
    assert "memory" not in priors.symptoms_in("0/3 nodes are available: 3 Insufficient memory.")
    # A Key Vault's access policies and a browser's CORS policy are not an administrator's policy.
    assert "policy-blocked" not in priors.symptoms_in("(Azure changed default to RBAC, causing access policies to be ignored)")
    assert "policy-blocked" not in priors.symptoms_in("has been blocked by CORS policy: No 'Access-Control-Allow-Origin' header")
    # pip weighing a Key Vault client is no vault refusing anyone (a corpus case's build log), and the
    # v1 workspace vault that fails an image creation is the image's.
    assert "key-vault-access" not in priors.symptoms_in(
        "INFO: pip is looking at multiple versions of azure-mgmt-keyvault to determine which version is compatible"
    )
    assert "key-vault-access" not in priors.symptoms_in(
        'Create image "myimage": the workspace Key Vault access policy was removed by redeploying the template'
    )
    # The v1 control plane's 500 is not a scoring 500, and a scoring 500 is not the control plane's.
    mms = "Received bad response from Model Management Service:\nResponse Code: 500\nContent: InternalServerError"
    assert "internal-server-error" not in priors.symptoms_in(mms)
    assert "v1-service-500" not in priors.symptoms_in("POST /score 500 Internal Server Error")
    # One boot is every healthy start (a line from a corpus control's log).
    assert "worker-rebooting" not in priors.symptoms_in("2025-12-10 13:23:08,365 I [13618] gunicorn.error - Booting worker with pid: 13618")
    # A crash loop's restarts each start gunicorn again: one boot each is not a worker re-booted.
    restarts = "Starting gunicorn 20.1.0\nBooting worker with pid: 41\nStarting gunicorn 20.1.0\nBooting worker with pid: 41"
    assert "worker-rebooting" not in priors.symptoms_in(restarts)


def test_every_reading_is_a_category_and_every_symptom_has_a_name_of_its_own():
    names = [s.name for s in priors.SYMPTOMS]
    assert len(names) == len(set(names))
    assert {s.reads_as for s in priors.SYMPTOMS if s.reads_as} <= set(corpus.CATEGORIES)


def test_a_symptom_told_beside_an_error_line_is_read(tmp_path):
    # mslearn-mlops#15: the error-shaped line says nothing; the sentence after it names the quota.
    from aml_doctor.engine import measure
    from aml_doctor.engine.diagnosis import Knowledge
    from aml_doctor.engine.plugins import load_plugins
    from aml_doctor.knowledge import index

    case = next(c for c in corpus.load_cases() if c.id == "mslearn-mlops-15-subscription-quota-exhausted")
    knowledge = Knowledge(index.build([]), priors.build([]))
    report = measure.diagnose(case, "text", load_plugins().rules, knowledge)
    assert [p.category.value for p in report.possible_causes][:1] == ["quota_exceeded"]



def _diagnose_text(text: str, cases: list[Case]):
    """The report for ``text`` pasted, with knowledge built from ``cases`` only."""
    from aml_doctor.engine import measure
    from aml_doctor.engine.diagnosis import Knowledge
    from aml_doctor.engine.plugins import load_plugins
    from aml_doctor.knowledge import index

    pasted = _case("other", text, 0)
    return measure.diagnose(pasted, "text", load_plugins().rules, Knowledge(index.build(cases), priors.build(cases)))


def _corpus_case(case_id: str) -> Case:
    return next(c for c in corpus.load_cases() if c.id == case_id)


# A real pair from the corpus: azureml-assets#3949's one-line account of a container that crashes on
# a missing dependency, and azureml-examples#3917's container crash on a missing package. They share
# three words, too few to cite one as the other seen before.
_PASTE = "- container is unable to start and crashes due to missing dependency"
_NEIGHBOUR = "azureml-examples-3917-ncd-azureml-ai-monitoring-crash"
_OTHERS = ["azcli-20247-az-ml-endpoint-split", "azcli-25433-model-deploy-m-list-syntax", "azcliext-3580-endpoint-yaml-blob-model-path"]


def _cases() -> list[Case]:
    return [_corpus_case(_NEIGHBOUR)] + [_corpus_case(i) for i in _OTHERS]


def test_a_case_with_similar_words_votes_without_being_cited():
    from aml_doctor.knowledge import index

    built = index.build(_cases())
    assert [m.case.id for m in built.neighbours([_PASTE])] == [_NEIGHBOUR]
    assert built.match([_PASTE]) == []
    report = _diagnose_text(_PASTE, _cases())
    assert report.known_issues == ()
    first = report.possible_causes[0]
    assert first.category.value == "entry_script_import_error"
    assert f"similar words ({_corpus_case(_NEIGHBOUR).thread})" in first.why


def test_the_platform_s_base_rates_fill_the_list_behind_the_leads():
    causes = [(p.category.value, p.why) for p in _diagnose_text(_PASTE, _cases()).possible_causes]
    assert [c for c, _ in causes] == ["entry_script_import_error", "other"]
    assert causes[1][1] == "75% of 4 real failures on any platform had this cause"


def test_words_no_case_shares_get_no_neighbour():
    from aml_doctor.knowledge import index

    assert index.build(_cases()).neighbours(["(OutOfQuota) Not enough subscription CPU quota."]) == []
