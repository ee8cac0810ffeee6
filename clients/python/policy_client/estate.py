"""Policies as code in Python: export a subtree's resources and policies as the estate files that ``policy export``
writes (``estate.yaml``, ``resources/{collection}/{id}.yaml``), plan what applying such files would change, and apply
the plan, each write conditional on the etag the plan read. The same layout and keys as the TypeScript SDK and the CLI
(docs/policy-as-code.md); this module covers resources (hierarchy, display names), their policies and deny policies.
Custom roles and shared policies are the TypeScript SDK's and the CLI's (``policy export`` / ``policy apply``): files of
theirs in a directory are kept as they are and not planned here."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import grpc
import yaml
from google.protobuf import json_format

from policy.v1 import deny_policy_pb2, deny_policy_service_pb2, deny_policy_service_pb2_grpc, policy_pb2  # noqa: E402

from .errors import PolicyServiceError, from_rpc_error

MANIFEST = "estate.yaml"
FORMAT = 1
#: Resources per ImportResources request (the server takes at most 10,000).
IMPORT_BATCH = 10_000


class _Dumper(yaml.SafeDumper):
    """Indents lists under their key, as the TypeScript SDK's YAML does."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)


def _dump(doc: Dict[str, Any]) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1 << 30, allow_unicode=True)


def canonical_policy(policy: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """A policy (protobuf JSON) as an estate keeps it: bindings merged by role and condition, members sorted and
    de-duplicated, bindings sorted, version 3 only with conditions; None when it grants nothing."""
    if not policy or (not policy.get("bindings") and not policy.get("auditConfigs")):
        return None
    merged: Dict[str, Dict[str, Any]] = {}
    for b in policy.get("bindings", []):
        c = b.get("condition")
        key = b["role"] if not c else "\0".join([b["role"], c.get("expression", ""), c.get("title", ""),
                                                 c.get("description", ""), c.get("location", "")])
        seen = merged.setdefault(key, {"role": b["role"], "members": [], **({"condition": c} if c else {})})
        seen["members"] = sorted(set(seen["members"]) | set(b.get("members", [])))
    bindings = [merged[k] for k in sorted(merged)]
    out: Dict[str, Any] = {"version": 3 if any("condition" in b for b in bindings) else 1, "bindings": bindings}
    if policy.get("auditConfigs"):
        out["auditConfigs"] = policy["auditConfigs"]
    return out


def _json(message: Any) -> Dict[str, Any]:
    return json_format.MessageToDict(message)


@dataclass
class EstateResource:
    name: str
    parent: str = ""
    display_name: str = ""
    #: Protobuf JSON of policy.v1.Policy (canonical, see canonical_policy); None: no policy.
    policy: Optional[Dict[str, Any]] = None
    #: Protobuf JSON of policy.v1.DenyRule, in order.
    deny_rules: List[Dict[str, Any]] = field(default_factory=list)


@dataclass
class Estate:
    subtree: str
    resources: List[EstateResource] = field(default_factory=list)


def export_subtree(client: Any, subtree: str) -> Estate:
    """The resources of ``subtree`` (walked by parent; shared policies left out) with their policies and deny
    policies. NotFoundError when it does not exist."""
    state = _read(client, subtree)
    if not state:
        raise PolicyServiceError(f'resource "{subtree}" not found')
    return Estate(subtree, [r for _, r, _, _ in sorted(state.values(), key=lambda s: s[1].name)])


def write_estate(directory: str, estate: Estate) -> None:
    """Writes the estate's files under ``directory`` (its resource files that the estate no longer has removed)."""
    wanted = {f"resources/{r.name}.yaml": r for r in estate.resources}
    root = os.path.join(directory, "resources")
    for base, _, files in os.walk(root):
        for f in files:
            rel = os.path.relpath(os.path.join(base, f), directory).replace(os.sep, "/")
            if rel.endswith(".yaml") and rel not in wanted:
                os.remove(os.path.join(directory, rel))
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, MANIFEST), "w") as out:
        out.write(_dump({"format": FORMAT, "subtree": estate.subtree}))
    for path, r in wanted.items():
        doc: Dict[str, Any] = {"parent": r.parent}
        if r.display_name:
            doc["displayName"] = r.display_name
        if r.policy:
            doc["policy"] = r.policy
        if r.deny_rules:
            doc["denyRules"] = r.deny_rules
        os.makedirs(os.path.dirname(os.path.join(directory, path)), exist_ok=True)
        with open(os.path.join(directory, path), "w") as out:
            out.write(_dump(doc))


def read_estate(directory: str) -> Estate:
    """Reads the estate files under ``directory`` (resources/ only; see the module's doc). ValueError names a bad file."""
    with open(os.path.join(directory, MANIFEST)) as f:
        head = yaml.safe_load(f) or {}
    if head.get("format") != FORMAT or not isinstance(head.get("subtree"), str):
        raise ValueError(f"{MANIFEST}: expected format: {FORMAT} and subtree: NAME")
    estate = Estate(head["subtree"])
    root = os.path.join(directory, "resources")
    for base, _, files in sorted(os.walk(root)):
        for f in sorted(files):
            rel = os.path.relpath(os.path.join(base, f), root).replace(os.sep, "/")
            if not rel.endswith(".yaml"):
                continue
            with open(os.path.join(base, f)) as fh:
                doc = yaml.safe_load(fh) or {}
            unknown = set(doc) - {"parent", "displayName", "policy", "denyRules"}
            if unknown:
                raise ValueError(f"resources/{rel}: unknown key {sorted(unknown)[0]!r}")
            policy = doc.get("policy")
            if policy is not None:
                json_format.ParseDict(policy, policy_pb2.Policy())  # validates field names and types
            for rule in doc.get("denyRules", []):
                json_format.ParseDict(rule, deny_policy_pb2.DenyRule())
            estate.resources.append(EstateResource(rel[:-len(".yaml")], doc.get("parent", ""), doc.get("displayName", ""),
                                                   canonical_policy(policy), list(doc.get("denyRules", []))))
    estate.resources.sort(key=lambda r: r.name)
    return estate


@dataclass
class Change:
    #: create, move, rename, set_policy, set_deny_policy, delete
    kind: str
    name: str
    detail: str = ""
    resource: Optional[EstateResource] = None
    etag: Any = None


@dataclass
class Plan:
    subtree: str
    changes: List[Change] = field(default_factory=list)

    def __str__(self) -> str:
        sign = {"create": "+", "move": ">", "rename": "~", "set_policy": "~", "set_deny_policy": "~", "delete": "-"}
        lines = [f"{sign[c.kind]} {c.kind.replace('_', ' ')} {c.name}{(': ' + c.detail) if c.detail else ''}" for c in self.changes]
        return "\n".join(lines + [f"{len(self.changes)} change(s)" if self.changes else "No changes."])


def plan_apply(client: Any, estate: Estate, prune: bool = False) -> Plan:
    """What would change to make the server's subtree match ``estate`` (deletions only with ``prune``)."""
    state = _read(client, estate.subtree)
    wanted = {r.name: r for r in estate.resources}

    def depth(name: str) -> int:
        d, r = 0, wanted.get(name)
        while r and r.parent in wanted and d < len(wanted):
            d, r = d + 1, wanted.get(r.parent)
        return d

    plan = Plan(estate.subtree)
    ordered = sorted(estate.resources, key=lambda r: (depth(r.name), r.name))
    for r in ordered:
        current = state.get(r.name)
        if current is None:
            plan.changes.append(Change("create", r.name, f"parent {r.parent}" if r.parent else "", r))
            continue
        stored, _, _, _ = current
        if stored.parent != r.parent:
            plan.changes.append(Change("move", r.name, f"{stored.parent or '(root)'} -> {r.parent or '(root)'}", r, stored.etag))
        elif stored.display_name != r.display_name:
            plan.changes.append(Change("rename", r.name, f"{stored.display_name!r} -> {r.display_name!r}", r, stored.etag))
    for r in ordered:
        current = state.get(r.name)
        if current is None:
            continue
        _, have, policy_etag, deny_etag = current
        if have.policy != r.policy:
            plan.changes.append(Change("set_policy", r.name, _binding_diff(have.policy, r.policy), r, policy_etag))
        if have.deny_rules != r.deny_rules:
            plan.changes.append(Change("set_deny_policy", r.name, f"{len(have.deny_rules)} -> {len(r.deny_rules)} rule(s)", r, deny_etag))
    if prune:
        gone = [s for s in state.values() if s[1].name not in wanted]

        def server_depth(name: str) -> int:
            d, s = 0, state.get(name)
            while s and s[0].parent in state:
                d, s = d + 1, state.get(s[0].parent)
            return d
        for stored, have, _, _ in sorted(gone, key=lambda s: (-server_depth(s[1].name), s[1].name)):
            plan.changes.append(Change("delete", have.name, "", have, stored.etag))
    return plan


class ApplyAborted(PolicyServiceError):
    """A concurrent edit (or conflicting write) stopped the apply; the changes before it were made."""


def apply_plan(client: Any, plan: Plan) -> int:
    """Makes the plan's changes in order (creations through ResourceService.ImportResources, with their policies);
    each other write conditional on the etag the plan read. Returns how many were made; ApplyAborted on a refusal."""
    done = 0
    creations = [c for c in plan.changes if c.kind == "create"]
    for i in range(0, len(creations), IMPORT_BATCH):
        chunk = creations[i:i + IMPORT_BATCH]
        items = []
        for c in chunk:
            r = c.resource
            item: Dict[str, Any] = {"resource": {"name": r.name, "parent": r.parent, "display_name": r.display_name}}
            if r.policy:
                item["policy"] = json_format.ParseDict(r.policy, policy_pb2.Policy())
            items.append(item)
        response = client.resources.import_resources(items=items)
        if response.errors:
            e = response.errors[0]
            raise ApplyAborted(f"{chunk[e.index].name}: {e.message} (code {e.code}); {done + e.index} change(s) made before it")
        done += len(chunk)
    deny = _deny(client)
    for c in plan.changes:
        r = c.resource
        try:
            if c.kind == "create":
                if r.deny_rules:
                    deny.SetDenyPolicy(deny_policy_service_pb2.SetDenyPolicyRequest(
                        resource=r.name, deny_policy=_deny_policy(r)), metadata=client.metadata, timeout=client.timeout)
                continue
            if c.kind in ("move", "rename"):
                client.resources.update_resource(resource={"name": r.name, "parent": r.parent, "display_name": r.display_name,
                                                           "etag": c.etag}, update_mask={"paths": ["parent", "display_name"]})
            elif c.kind == "set_policy":
                if r.policy is None:
                    client.policies.delete_policy(resource=r.name, etag=c.etag)
                else:
                    policy = json_format.ParseDict(r.policy, policy_pb2.Policy())
                    policy.etag = c.etag
                    client.policies.set_policy(resource=r.name, policy=policy,
                                               update_mask={"paths": ["bindings", "etag", "audit_configs"]})
            elif c.kind == "set_deny_policy":
                if not r.deny_rules:
                    deny.DeleteDenyPolicy(deny_policy_service_pb2.DeleteDenyPolicyRequest(resource=r.name, etag=c.etag),
                                          metadata=client.metadata, timeout=client.timeout)
                else:
                    p = _deny_policy(r)
                    p.etag = c.etag
                    deny.SetDenyPolicy(deny_policy_service_pb2.SetDenyPolicyRequest(resource=r.name, deny_policy=p),
                                       metadata=client.metadata, timeout=client.timeout)
            elif c.kind == "delete":
                client.resources.delete_resource(name=r.name, etag=c.etag)
        except grpc.RpcError as error:
            raise ApplyAborted(f"{c.kind.replace('_', ' ')} {c.name}: {from_rpc_error(error)}; "
                               f"{done} change(s) made before it: plan again") from None
        except PolicyServiceError as error:
            raise ApplyAborted(f"{c.kind.replace('_', ' ')} {c.name} changed since the plan read it: {error}; "
                               f"{done} change(s) made before it: plan again") from None
        done += 1
    return done


# -- reading the server ------------------------------------------------------------------------------------------

def _deny(client: Any) -> Any:
    return deny_policy_service_pb2_grpc.DenyPolicyServiceStub(client.channel)


def _deny_policy(r: EstateResource) -> Any:
    p = deny_policy_pb2.DenyPolicy(resource=r.name)
    for rule in r.deny_rules:
        json_format.ParseDict(rule, p.rules.add())
    return p


def _read(client: Any, subtree: str) -> Dict[str, Any]:
    """name -> (stored resource, EstateResource, policy etag, deny etag); empty when ``subtree`` does not exist."""
    from .errors import NotFoundError
    try:
        root = client.resources.get_resource(name=subtree)
    except NotFoundError:
        return {}
    resources, level = [root], [root]
    while level:
        children = []
        for parent in level:
            token = ""
            while True:
                page = client.resources.list_resources(parent=parent.name, page_size=1000, page_token=token)
                children.extend(r for r in page.resources if r.type != "shared_policy")
                token = page.next_page_token
                if not token:
                    break
        resources.extend(children)
        level = children
    deny = _deny(client)
    state: Dict[str, Any] = {}
    for r in resources:
        policy = client.policies.get_policy(resource=r.name, options={"requested_policy_version": 3})
        try:
            d = deny.GetDenyPolicy(deny_policy_service_pb2.GetDenyPolicyRequest(resource=r.name),
                                   metadata=client.metadata, timeout=client.timeout)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        state[r.name] = (r, EstateResource(r.name, r.parent, r.display_name, canonical_policy(_json(policy)),
                                           [_json(rule) for rule in d.rules]), policy.etag, d.etag)
    return state


def _binding_diff(before: Optional[Dict[str, Any]], after: Optional[Dict[str, Any]]) -> str:
    def members(p: Optional[Dict[str, Any]]) -> Dict[str, set]:
        return {b["role"] + (" if " + b["condition"].get("title", b["condition"].get("expression", "")) if "condition" in b else ""):
                set(b["members"]) for b in (p or {}).get("bindings", [])}
    was, now = members(before), members(after)
    parts = []
    for role in sorted(set(was) | set(now)):
        added = sorted(now.get(role, set()) - was.get(role, set()))
        removed = sorted(was.get(role, set()) - now.get(role, set()))
        if added or removed:
            parts.append(f"{role} " + " ".join([f"+{m}" for m in added] + [f"-{m}" for m in removed]))
    return "; ".join(parts)
