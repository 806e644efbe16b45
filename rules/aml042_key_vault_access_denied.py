"""AML042: Key Vault refuses the secret the scoring code reads with the deployment's identity."""

from __future__ import annotations

from aml_doctor import Category, Rule, Severity, Stage
from aml_doctor.engine.signatures import with_signatures


@with_signatures(__file__)
class KeyVaultAccessDenied(Rule):
    id = "AML042"
    name = "key-vault-access-denied"
    category = Category.AUTH_ERROR
    severity = Severity.HIGH
    # The secret is read where the scoring code reads it, most often in init(): the exception that
    # init() or run() raises is this refusal, so those findings follow this one.
    stage = Stage.INIT
    explains = ("AML004[init-error]", "AML004[crash-loop]", "AML013")
    requires = ("text|azureml_logs|container_logs",)
    links = ("https://learn.microsoft.com/azure/key-vault/general/rbac-guide",)

    def check(self, ev):
        # Every form of the refusal is an error text; they live in the signatures file beside it.
        return ()
