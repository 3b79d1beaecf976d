"""Schemathesis hooks for Reprise's stateful chain run (loaded through SCHEMATHESIS_HOOKS).

Generated logins never match an account, so the chain "log in -> create token -> list -> revoke"
would never start. Every login body is replaced by the credentials of the account the test made
for the chain (REPRISE_CHAIN_USER / REPRISE_CHAIN_PASSWORD); the rest of the chain is generated.
"""
import os

import schemathesis
from hypothesis import strategies as st

CHAIN = {"username": os.environ["REPRISE_CHAIN_USER"], "password": os.environ["REPRISE_CHAIN_PASSWORD"]}


@schemathesis.hook("flatmap_body").apply_to(method="POST", path="/api/v1/sessions")
def log_in_as_the_chain_user(context, body):
    return st.just(dict(CHAIN))
