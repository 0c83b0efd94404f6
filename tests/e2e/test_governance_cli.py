"""Governance from the command line: tenants, users, keys, roles, policies, the audit log and
development tokens, driven as a user drives them (a subprocess per command).

One scenario is played by a module fixture that records every command's result, including a
tampered audit log (changed and deleted rows written straight into the catalog's SQLite file);
the tests read the recordings. No command may print a stack trace.
"""

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest

from tests.projects import order_rows, write_csv, write_project


@dataclass(frozen=True, slots=True)
class Result:
    """One finished command."""

    args: tuple[str, ...]
    code: int
    out: str
    err: str

    @property
    def message(self) -> str:
        """stderr with the terminal's line wrapping undone."""
        return " ".join(self.err.split())

    def rows(self) -> list[dict[str, Any]]:
        data = json.loads(self.out)
        assert isinstance(data, list), self.out
        return data


Gnomon = Callable[..., Result]


@pytest.fixture(scope="module")
def gnomon(tmp_path_factory: pytest.TempPathFactory) -> Gnomon:
    """Run ``gnomon ARGS…`` in a subprocess from an empty folder (so only --project counts)."""
    cwd = tmp_path_factory.mktemp("cwd")
    bytecode = tmp_path_factory.mktemp("bytecode")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GNOMON_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(bytecode)

    def run(*args: str | Path) -> Result:
        argv = tuple(str(a) for a in args)
        proc = subprocess.run(
            [sys.executable, "-m", "gnomon.cli", *argv],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=cwd,
            env=env,
            check=False,
        )
        result = Result(argv, proc.returncode, proc.stdout, proc.stderr)
        assert "Traceback" not in result.err, f"gnomon {' '.join(argv)} crashed:\n{result.err}"
        assert "internal error" not in result.err, result.err
        return result

    return run


def assert_user_error(result: Result, *fragments: str, code: int = 2) -> None:
    """A mistake reported as "error: …" on stderr with the exit code of its kind."""
    assert result.code == code, (result.code, result.out, result.err)
    assert result.message.startswith("error:"), result.err
    for fragment in fragments:
        assert fragment in result.message, (fragment, result.message)


@dataclass
class Scenario:
    project: Path
    results: dict[str, Result] = field(default_factory=dict)
    tampered_seq: int = 0

    def __getitem__(self, name: str) -> Result:
        return self.results[name]


def _play(gnomon: Gnomon, project: Path) -> Scenario:
    scenario = Scenario(project)
    here = ("--project", project)
    js = (*here, "--format", "json")

    def run(name: str, *args: str | Path) -> Result:
        scenario.results[name] = gnomon(*args)
        return scenario.results[name]

    write_csv(project / "data" / "a.csv", order_rows(0, 4) + order_rows(4, 2, region="AMER"))
    assert gnomon("ingest", "orders", *here).code == 0
    # tenants
    run("tenant_create", "tenants", "create", "acme", "--name", "Acme Corp", *here)
    run("tenant_again", "tenants", "create", "acme", *here)
    run("tenants", "tenants", "list", *js)
    # users
    run("admin_acme", "users", "create", "admin@acme", "--role", "admin", "--tenant", "acme",
        *here)  # fmt: skip
    run("user_emea", "users", "create", "emea", "--role", "analyst", "--attr", "region=EMEA",
        "--attr", "level:=2", *here)  # fmt: skip
    run("user_west", "users", "create", "west", "-r", "viewer", "-r", "analyst",
        "--attr", "region=AMER", *here)  # fmt: skip
    run("user_dup", "users", "create", "emea", "--role", "viewer", *here)
    run("user_bad_role", "users", "create", "x", "--role", "wizard", *here)
    run("user_bad_attr", "users", "create", "x", "--attr", "region", *here)
    run("user_bad_json", "users", "create", "x", "--attr", "level:=two", *here)
    run("user_no_tenant", "users", "create", "x", "--tenant", "initech", *here)
    run("users", "users", "list", *js)
    run("users_acme", "users", "list", "--tenant", "acme", *js)
    # keys
    run("key_plain", "keys", "create", "--user", "emea", "--expires", "30d", *here)
    run("key_json", "keys", "create", "--user", "west", "--name", "bi", "--role", "viewer", *js)
    run("key_extra_role", "keys", "create", "--user", "emea", "--role", "admin", *here)
    run("key_bad_expiry", "keys", "create", "--user", "emea", "--expires", "soon", *here)
    run("key_past", "keys", "create", "--user", "emea", "--expires", "2001-01-01", *here)
    run("key_ghost", "keys", "create", "--user", "ghost", *here)
    run("keys_before", "keys", "list", *js)
    revoked = scenario["key_json"].rows()[0]["id"] if scenario["key_json"].code == 0 else "x"
    run("key_revoke", "keys", "revoke", revoked, *here)
    run("key_revoke_unknown", "keys", "revoke", "nosuchkey", *here)
    run("key_revoke_other_tenant", "keys", "revoke", revoked, "--tenant", "acme", *here)
    run("keys_after", "keys", "list", "--user", "west", *js)
    # roles
    run("role_set", "roles", "set", "finance", "-P", "metrics:query if department = finance",
        "--permission", "metrics:read", *here)  # fmt: skip
    run("role_bad", "roles", "set", "odd", "-P", "lake:burn", *here)
    run("role_builtin", "roles", "set", "admin", "-P", "metrics:read", *here)
    run("roles", "roles", "list", *js)
    run("role_delete", "roles", "delete", "finance", *here)
    run("role_delete_again", "roles", "delete", "finance", *here)
    run("roles_after", "roles", "list", *js)
    # policies
    run("policy_row", "policies", "set", "own_region", "--kind", "row", "--table",
        "silver.orders", "--role", "analyst", "--predicate", "region = {{ user.region }}",
        *here)  # fmt: skip
    run("policy_mask", "policies", "set", "ids", "--kind", "mask", "--table", "silver.orders",
        "--column", "order_id", "--strategy", "partial", "--reveal", "2", *here)  # fmt: skip
    run("policy_bad_column", "policies", "set", "p", "--kind", "row", "--table", "silver.orders",
        "--predicate", "country = 'FR'", *here)  # fmt: skip
    run("policy_bad_table", "policies", "set", "p", "--kind", "mask", "--table", "silver.nope",
        "--column", "x", "--strategy", "hash", *here)  # fmt: skip
    run("policy_bad_table_name", "policies", "set", "p", "--kind", "row", "--table", "orders",
        "--predicate", "1 = 1", *here)  # fmt: skip
    run("policy_mixed", "policies", "set", "p", "--kind", "mask", "--table", "silver.orders",
        "--predicate", "region = 'EMEA'", *here)  # fmt: skip
    run("policy_bad_strategy", "policies", "set", "p", "--kind", "mask", "--table",
        "silver.orders", "--column", "region", "--strategy", "scramble", *here)  # fmt: skip
    run("policy_bad_kind", "policies", "set", "p", "--kind", "column", "--table",
        "silver.orders", "--column", "region", *here)  # fmt: skip
    run("policies", "policies", "list", *js)
    run("policy_delete", "policies", "delete", "ids", *here)
    run("policy_delete_again", "policies", "delete", "ids", *here)
    run("policies_after", "policies", "list", *js)
    # tokens, first with the development issuer off
    run("token_off", "token", "create", "--user", "west", *here)
    with (project / "gnomon.yaml").open("a", encoding="utf-8") as handle:
        handle.write("auth: {dev_issuer: {enabled: true, ttl_s: 600}}\n")
    run("token", "token", "create", "--user", "west", *here)
    run("token_json", "token", "create", "--user", "admin@acme", "--tenant", "acme", *js)
    run("token_ghost", "token", "create", "--user", "ghost", *here)
    run("token_other_tenant", "token", "create", "--user", "west", "--tenant", "acme", *here)
    run("disable", "users", "disable", "emea", *here)
    run("token_disabled", "token", "create", "--user", "emea", *here)
    run("users_after", "users", "list", *js)
    # the audit log
    run("audit", "audit", "list", "--limit", "1000", *js)
    run("audit_users", "audit", "list", "--action", "user.create", *js)
    run("audit_last2", "audit", "list", "--limit", "2", *js)
    run("audit_after", "audit", "list", "--after", "1", "--limit", "1", *js)
    run("verify", "audit", "verify", *here)
    run("verify_acme", "audit", "verify", "--tenant", "acme", *here)
    entries = scenario["audit_users"].rows() if scenario["audit_users"].code == 0 else []
    emea_entry = next((e["seq"] for e in entries if e["target"] == "emea"), 0)
    scenario.tampered_seq = emea_entry
    database = project / ".gnomon" / "catalog.db"
    with sqlite3.connect(database) as con:
        con.execute(
            "UPDATE audit_log SET details = ? WHERE tenant_id = 'default' AND seq = ?",
            (json.dumps({"roles": ["admin"]}), emea_entry),
        )
        con.execute("DELETE FROM audit_log WHERE tenant_id = 'acme' AND seq = 1")
    con.close()
    run("verify_changed", "audit", "verify", *here)
    run("verify_deleted", "audit", "verify", "--tenant", "acme", *here)
    return scenario


@pytest.fixture(scope="module")
def scenario(gnomon: Gnomon, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return _play(gnomon, write_project(tmp_path_factory.mktemp("governed") / "shop"))


def by(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {row[key]: row for row in rows}


# ---------------------------------------------------------------- tenants


def test_tenants_are_created_once_and_listed(scenario: Scenario) -> None:
    assert scenario["tenant_create"].code == 0, scenario["tenant_create"].err
    assert "acme" in scenario["tenant_create"].out
    assert_user_error(scenario["tenant_again"], "'acme' already exists", code=1)
    tenants = by(scenario["tenants"].rows(), "id")
    assert set(tenants) == {"acme", "default"}
    assert tenants["acme"]["name"] == "Acme Corp"


# ---------------------------------------------------------------- users


def test_users_get_roles_and_typed_attributes(scenario: Scenario) -> None:
    for name in ("admin_acme", "user_emea", "user_west"):
        assert scenario[name].code == 0, scenario[name].err
    users = by(scenario["users"].rows(), "name")
    assert set(users) == {"emea", "west"}  # admin@acme belongs to tenant acme
    assert users["emea"]["roles"] == ["analyst"]
    assert users["emea"]["attributes"] == {"region": "EMEA", "level": 2}
    assert users["west"]["roles"] == ["viewer", "analyst"]
    assert users["emea"]["disabled"] is False
    assert [u["name"] for u in scenario["users_acme"].rows()] == ["admin@acme"]


def test_user_mistakes_are_explained(scenario: Scenario) -> None:
    assert_user_error(scenario["user_dup"], "already has a user of that name", code=1)
    assert_user_error(scenario["user_bad_role"], "Unknown role 'wizard'", "analyst")
    assert_user_error(scenario["user_bad_attr"], "'region' is not of the form key=value")
    assert_user_error(scenario["user_bad_json"], "'two' is not a JSON value")
    assert_user_error(scenario["user_no_tenant"], "Unknown tenant 'initech'", "gnomon tenants list")


def test_users_disable(scenario: Scenario) -> None:
    assert scenario["disable"].code == 0, scenario["disable"].err
    users = by(scenario["users_after"].rows(), "name")
    assert users["emea"]["disabled"] is True
    assert users["west"]["disabled"] is False


# ---------------------------------------------------------------- keys


def test_a_new_key_is_printed_alone_once(scenario: Scenario) -> None:
    plain = scenario["key_plain"]
    assert plain.code == 0, plain.err
    key = plain.out.strip()
    assert key.startswith("gnm_") and "\n" not in key
    assert "cannot be shown again" in plain.message
    assert key not in plain.err
    listed = by(scenario["keys_before"].rows(), "user")
    assert key.startswith(listed["emea"]["prefix"])
    assert listed["emea"]["expires_at"] is not None
    assert all("key" not in row and "key_hash" not in row for row in listed.values())


def test_a_key_narrowed_to_a_role_as_json(scenario: Scenario) -> None:
    [made] = scenario["key_json"].rows()
    assert made["key"].startswith("gnm_")
    assert (made["user"], made["name"], made["roles"]) == ("west", "bi", ["viewer"])
    assert made["expires_at"] is None


def test_key_mistakes_are_explained(scenario: Scenario) -> None:
    assert_user_error(scenario["key_extra_role"], "roles its user lacks: admin")
    assert_user_error(scenario["key_bad_expiry"], "'soon' is neither a duration nor a date")
    assert_user_error(scenario["key_past"], "expire in the past")
    assert_user_error(scenario["key_ghost"], "No user is called 'ghost'")


def test_keys_revoke(scenario: Scenario) -> None:
    assert scenario["key_revoke"].code == 0, scenario["key_revoke"].err
    [west] = scenario["keys_after"].rows()
    assert west["revoked_at"] is not None
    assert_user_error(scenario["key_revoke_unknown"], "No API key has the id 'nosuchkey'")
    assert_user_error(scenario["key_revoke_other_tenant"], "No API key has the id")


# ---------------------------------------------------------------- roles


def test_custom_roles_are_set_listed_and_deleted(scenario: Scenario) -> None:
    assert scenario["role_set"].code == 0, scenario["role_set"].err
    roles = by(scenario["roles"].rows(), "name")
    assert roles["finance"] == {
        "name": "finance",
        "builtin": False,
        "permissions": ["metrics:query if department = finance", "metrics:read"],
    }
    assert roles["admin"]["builtin"] is True and roles["admin"]["permissions"] == ["*"]
    assert {"viewer", "analyst", "editor"} <= set(roles)
    assert scenario["role_delete"].code == 0
    assert "finance" not in by(scenario["roles_after"].rows(), "name")
    assert_user_error(scenario["role_delete_again"], "No custom role is called 'finance'")


def test_role_mistakes_are_explained(scenario: Scenario) -> None:
    assert scenario["role_bad"].code == 2
    assert "lake:burn" in scenario["role_bad"].message
    assert_user_error(scenario["role_builtin"], "'admin' is a built-in role")


# ---------------------------------------------------------------- policies


def test_policies_are_checked_against_the_table_and_listed(scenario: Scenario) -> None:
    assert scenario["policy_row"].code == 0, scenario["policy_row"].err
    assert scenario["policy_mask"].code == 0, scenario["policy_mask"].err
    policies = by(scenario["policies"].rows(), "name")
    assert policies["own_region"]["kind"] == "row"
    assert policies["own_region"]["table"] == "silver.orders"
    assert policies["own_region"]["roles"] == ["analyst"]
    assert policies["own_region"]["rule"] == {"predicate": "region = {{ user.region }}"}
    assert policies["ids"]["rule"] == {"column": "order_id", "strategy": "partial", "reveal": 2}
    assert policies["ids"]["roles"] == []
    assert scenario["policy_delete"].code == 0
    assert set(by(scenario["policies_after"].rows(), "name")) == {"own_region"}
    assert_user_error(scenario["policy_delete_again"], "No access policy is called 'ids'")


def test_policy_mistakes_are_explained(scenario: Scenario) -> None:
    assert_user_error(scenario["policy_bad_column"], "'country'", "not a column", "region")
    assert_user_error(scenario["policy_bad_table"], "There is no table silver.nope")
    assert_user_error(scenario["policy_bad_table_name"], "not of the form layer.name")
    assert_user_error(scenario["policy_mixed"], "A mask takes --column and --strategy")
    assert_user_error(scenario["policy_bad_strategy"], "'scramble' is not a masking strategy")
    assert_user_error(scenario["policy_bad_kind"], "'column' is not a policy kind")


# ---------------------------------------------------------------- tokens


def test_token_create_needs_the_development_issuer(scenario: Scenario) -> None:
    assert_user_error(
        scenario["token_off"], "development token issuer is off", "auth.dev_issuer.enabled"
    )
    assert scenario["token_off"].out == ""


def test_token_create_prints_a_token_with_the_users_roles_and_attributes(
    scenario: Scenario,
) -> None:
    result = scenario["token"]
    assert result.code == 0, result.err
    claims = jwt.decode(result.out.strip(), options={"verify_signature": False})
    assert (claims["sub"], claims["tenant"]) == ("west", "default")
    assert claims["roles"] == ["analyst", "viewer"]
    assert claims["attributes"] == {"region": "AMER"}
    assert claims["exp"] - claims["iat"] == 600
    assert "Authorization: Bearer" in result.message
    [row] = scenario["token_json"].rows()
    assert (row["tenant"], row["user"], row["roles"]) == ("acme", "admin@acme", ["admin"])
    assert jwt.decode(row["token"], options={"verify_signature": False})["tenant"] == "acme"


def test_token_create_only_for_an_enabled_user_of_the_tenant(scenario: Scenario) -> None:
    assert_user_error(scenario["token_ghost"], "No user is called 'ghost'")
    assert_user_error(scenario["token_other_tenant"], "No user is called 'west' in tenant 'acme'")
    assert_user_error(scenario["token_disabled"], "'emea' is disabled", code=1)
    for name in ("token_ghost", "token_other_tenant", "token_disabled"):
        assert scenario[name].out == ""


# ---------------------------------------------------------------- audit


def test_every_change_is_in_the_audit_log(scenario: Scenario) -> None:
    entries = scenario["audit"].rows()
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    actions = [(e["action"], e["target"]) for e in entries]
    for expected in (
        ("user.create", "emea"),
        ("user.create", "west"),
        ("role.put", "finance"),
        ("role.delete", "finance"),
        ("policy.put", "own_region"),
        ("policy.delete", "ids"),
        ("user.update", "emea"),
    ):
        assert expected in actions, expected
    assert sum(a == "key.create" for a, _ in actions) == 2
    assert sum(a == "key.revoke" for a, _ in actions) == 1
    assert all(e["principal"] == "system" and len(e["hash"]) == 64 for e in entries)
    assert {e["action"] for e in scenario["audit_users"].rows()} == {"user.create"}
    assert [e["seq"] for e in scenario["audit_last2"].rows()] == [e["seq"] for e in entries[-2:]]
    assert [e["seq"] for e in scenario["audit_after"].rows()] == [2]


def test_audit_verify_passes_on_an_intact_log(scenario: Scenario) -> None:
    count = len(scenario["audit"].rows())
    assert scenario["verify"].code == 0, scenario["verify"].err
    assert scenario["verify"].out.strip() == f"ok, {count} entries"
    assert scenario["verify_acme"].code == 0
    assert scenario["verify_acme"].out.startswith("ok, ")


def test_audit_verify_names_a_changed_entry(scenario: Scenario) -> None:
    result = scenario["verify_changed"]
    seq = scenario.tampered_seq
    assert seq > 0
    assert result.code == 1, (result.out, result.err)
    assert f"broken at entry {seq}" in result.message
    assert f"entry {seq} was changed" in result.message
    assert f"{seq - 1} entries before it are intact" in result.message


def test_audit_verify_names_a_deleted_entry(scenario: Scenario) -> None:
    result = scenario["verify_deleted"]
    assert result.code == 1, (result.out, result.err)
    assert "tenant acme is broken at entry 1" in result.message
    assert "entry 1 is missing" in result.message
