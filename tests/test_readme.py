"""The README's manifests parse, and its Roles only ever read."""

import re
from pathlib import Path

import yaml

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_readme_manifests_parse_and_grant_only_reads():
    blocks = re.findall(r"```yaml\n(.*?)```", README, re.S)
    docs = [d for block in blocks for d in yaml.safe_load_all(block) if d]
    kinds = {d["kind"] for d in docs}
    assert {"Role", "ClusterRole", "ServiceAccount", "RoleBinding", "CronJob"} <= kinds
    for d in docs:
        if d["kind"] in ("Role", "ClusterRole"):
            for rule in d["rules"]:
                assert set(rule["verbs"]) <= {"get", "list", "watch"}
                assert "secrets" not in rule["resources"]
    cronjob = next(d for d in docs if d["kind"] == "CronJob")
    args = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"][0]
    assert args.startswith("aml-doctor --all -n azureml-myws")
