"""Policies as code in Python: export a subtree as the estate files that ``policy export`` writes (``estate.yaml``,
``resources/{collection}/{id}.yaml``, ``roles/{collection}/{id}/{role}.yaml``, ``shared-policies/{id}.yaml``), plan
what applying such files would change, and apply the plan, each write conditional on the etag the plan read. The same
layout, keys and order of changes as the TypeScript SDK and the CLI (docs/policy-as-code.md): resources (hierarchy,
display names), their policies and deny policies, the custom roles of the organizations in the subtree, and their
shared policies with their own access policy and their bindings to the subtree's resources."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import grpc
import yaml
from google.protobuf import json_format

from policy.v1 import deny_policy_pb2, policy_pb2, role_pb2, shared_policy_pb2  # noqa: E402

from .errors import PolicyServiceError, from_rpc_error

MANIFEST = "estate.yaml"
FORMAT = 1
#: Resources per ImportResources request (the server takes at most 10,000).
IMPORT_BATCH = 10_000
SHARED_COLLECTION = "sharedPolicies"
SHARED_POLICY_TYPE = "shared_policy"
#: Role stages as the files name them (``stage: GA``), from RoleStage without its prefix.
STAGES = ("GA", "BETA", "DEPRECATED", "DISABLED")
PAGE = 1000


class _Dumper(yaml.SafeDumper):
    """Indents lists under their key, as the TypeScript SDK's YAML does."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)


def _dump(doc: Dict[str, Any]) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1 << 30, allow_unicode=True)


def canonical_bindings(bindings: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Bindings (protobuf JSON) merged by role and condition, members de-duplicated and sorted, bindings sorted: one
    form for each set, the server's."""
    merged: Dict[str, Dict[str, Any]] = {}
    for b in bindings:
        c = b.get("condition")
        key = b["role"] if not c else "\0".join([b["role"], c.get("expression", ""), c.get("title", ""),
                                                 c.get("description", ""), c.get("location", "")])
        seen = merged.setdefault(key, {"role": b["role"], "members": [], **({"condition": c} if c else {})})
        seen["members"] = sorted(set(seen["members"]) | set(b.get("members", [])))
    return [merged[k] for k in sorted(merged)]


def canonical_policy(policy: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """A policy (protobuf JSON) as an estate keeps it: canonical bindings (canonical_bindings), version 3 only with
    conditions; None when it grants nothing."""
    if not policy or (not policy.get("bindings") and not policy.get("auditConfigs")):
        return None
    bindings = canonical_bindings(policy.get("bindings", []))
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
class EstateRole:
    """A custom role of an organization in the estate (not deleted)."""
    #: ``organizations/acme/roles/viewer``
    name: str
    title: str = ""
    description: str = ""
    #: Sorted.
    included_permissions: List[str] = field(default_factory=list)
    #: One of STAGES.
    stage: str = "GA"


@dataclass
class EstateSharedPolicy:
    """A shared policy of an organization in the estate, with the targets (in the estate) it is bound to."""
    #: ``sharedPolicies/{id}``
    name: str
    parent: str = ""
    display_name: str = ""
    description: str = ""
    #: Protobuf JSON of policy.v1.Binding, canonical (see canonical_bindings).
    bindings: List[Dict[str, Any]] = field(default_factory=list)
    deny_rules: List[Dict[str, Any]] = field(default_factory=list)
    #: Sorted names of the resources it is bound to.
    targets: List[str] = field(default_factory=list)
    #: Its own access policy (canonical); None when it has none.
    policy: Optional[Dict[str, Any]] = None


@dataclass
class Estate:
    subtree: str
    #: Each list sorted by name.
    resources: List[EstateResource] = field(default_factory=list)
    roles: List[EstateRole] = field(default_factory=list)
    shared_policies: List[EstateSharedPolicy] = field(default_factory=list)


def export_subtree(client: Any, subtree: str) -> Estate:
    """The subtree as an estate: its resources (walked by parent) with their policies and deny policies, the custom
    roles (not deleted) of its organizations, and their shared policies with the targets in the subtree.
    PolicyServiceError when it does not exist."""
    state = _read(client, subtree)
    if not state.resources:
        raise PolicyServiceError(f'resource "{subtree}" not found')
    return Estate(
        subtree,
        [s.estate for s in sorted(state.resources.values(), key=lambda s: s.estate.name)],
        sorted((_estate_role(r) for r in state.roles.values() if not r.deleted), key=lambda r: r.name),
        sorted((s.estate for s in state.shared_policies.values()), key=lambda s: s.name),
    )


def estate_files(estate: Estate) -> Dict[str, str]:
    """The estate as files: relative path (with ``/``) -> text, in path order."""
    files: Dict[str, str] = {MANIFEST: _dump({"format": FORMAT, "subtree": estate.subtree})}
    for r in estate.resources:
        doc: Dict[str, Any] = {"parent": r.parent}
        if r.display_name:
            doc["displayName"] = r.display_name
        if r.policy:
            doc["policy"] = r.policy
        if r.deny_rules:
            doc["denyRules"] = r.deny_rules
        files[f"resources/{r.name}.yaml"] = _dump(doc)
    for role in estate.roles:
        doc = {"title": role.title}
        if role.description:
            doc["description"] = role.description
        doc["stage"] = role.stage
        doc["includedPermissions"] = role.included_permissions
        org, role_id = role.name.split("/roles/", 1)
        files[f"roles/{org}/{role_id}.yaml"] = _dump(doc)
    for sp in estate.shared_policies:
        doc = {"parent": sp.parent}
        for key, value in (("displayName", sp.display_name), ("description", sp.description), ("bindings", sp.bindings),
                           ("denyRules", sp.deny_rules), ("targets", sp.targets), ("policy", sp.policy)):
            if value:
                doc[key] = value
        files[f"shared-policies/{sp.name[len(SHARED_COLLECTION) + 1:]}.yaml"] = _dump(doc)
    return dict(sorted(files.items()))


def _is_estate_path(rel: str) -> bool:
    return rel == MANIFEST or (rel.split("/", 1)[0] in ("resources", "roles", "shared-policies") and rel.endswith(".yaml"))


def _list_files(directory: str) -> List[str]:
    out = []
    for base, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if not (base == directory and d == ".git")]
        out += [os.path.relpath(os.path.join(base, f), directory).replace(os.sep, "/") for f in files]
    return sorted(out)


def write_estate(directory: str, estate: Estate) -> None:
    """Writes the estate's files under ``directory``, removing the estate files there that it no longer has."""
    files = estate_files(estate)
    for rel in _list_files(directory):
        if _is_estate_path(rel) and rel not in files:
            os.remove(os.path.join(directory, rel))
    for rel, text in files.items():
        path = os.path.join(directory, rel)
        os.makedirs(os.path.dirname(path) or directory, exist_ok=True)
        with open(path, "w") as out:
            out.write(text)


def read_estate(directory: str) -> Estate:
    """Reads the estate files under ``directory`` (other files, a README or .git, are left alone). ValueError names
    a bad file and what is wrong with it."""
    if not os.path.exists(os.path.join(directory, MANIFEST)):
        raise ValueError(f"{MANIFEST}: missing: not an estate directory (policy export writes one)")
    head = _mapping(directory, MANIFEST, ("format", "subtree"))
    if head.get("format") != FORMAT or not isinstance(head.get("subtree"), str):
        raise ValueError(f"{MANIFEST}: expected format: {FORMAT} and subtree: NAME")
    estate = Estate(head["subtree"])
    for rel in _list_files(directory):
        if rel == MANIFEST or not _is_estate_path(rel):
            continue
        parts = rel[:-len(".yaml")].split("/")
        if parts[0] == "resources" and len(parts) == 3:
            doc = _mapping(directory, rel, ("parent", "displayName", "policy", "denyRules"))
            estate.resources.append(EstateResource(f"{parts[1]}/{parts[2]}", _str(rel, doc, "parent"),
                                                   _str(rel, doc, "displayName"), _policy(rel, doc.get("policy")),
                                                   _deny_rules(rel, doc)))
        elif parts[0] == "roles" and len(parts) == 4:
            doc = _mapping(directory, rel, ("title", "description", "stage", "includedPermissions"))
            stage = doc.get("stage", "GA")
            if stage not in STAGES:
                raise ValueError(f"{rel}: stage must be GA, BETA, DEPRECATED or DISABLED")
            estate.roles.append(EstateRole(f"{parts[1]}/{parts[2]}/roles/{parts[3]}", _str(rel, doc, "title"),
                                           _str(rel, doc, "description"), sorted(_strings(rel, doc, "includedPermissions")),
                                           stage))
        elif parts[0] == "shared-policies" and len(parts) == 2:
            doc = _mapping(directory, rel, ("parent", "displayName", "description", "bindings", "denyRules", "targets", "policy"))
            bindings = _list(rel, doc, "bindings")
            for i, b in enumerate(bindings):
                _check(rel, f"bindings[{i}]", b, policy_pb2.Binding())
            estate.shared_policies.append(EstateSharedPolicy(
                f"{SHARED_COLLECTION}/{parts[1]}", _str(rel, doc, "parent"), _str(rel, doc, "displayName"),
                _str(rel, doc, "description"), canonical_bindings(bindings), _deny_rules(rel, doc),
                sorted(_strings(rel, doc, "targets")), _policy(rel, doc.get("policy"))))
        else:
            raise ValueError(f"{rel}: not a file of an estate: expected resources/{{collection}}/{{id}}.yaml, "
                             "roles/{collection}/{id}/{role}.yaml or shared-policies/{id}.yaml")
    for items in (estate.resources, estate.roles, estate.shared_policies):
        items.sort(key=lambda x: x.name)
    return estate


def _mapping(directory: str, rel: str, keys: tuple) -> Dict[str, Any]:
    try:
        with open(os.path.join(directory, rel)) as f:
            doc = yaml.safe_load(f)
    except yaml.YAMLError as error:
        raise ValueError(f"{rel}: {str(error).splitlines()[0]}") from None
    doc = {} if doc is None else doc
    if not isinstance(doc, dict):
        raise ValueError(f"{rel}: expected a mapping")
    unknown = sorted(set(doc) - set(keys))
    if unknown:
        raise ValueError(f"{rel}: unknown key {unknown[0]!r}; expected {', '.join(keys)}")
    return doc


def _str(rel: str, doc: Dict[str, Any], key: str) -> str:
    value = doc.get(key, "")
    if not isinstance(value, str):
        raise ValueError(f"{rel}: {key} must be a string")
    return value


def _list(rel: str, doc: Dict[str, Any], key: str) -> List[Any]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise ValueError(f"{rel}: {key} must be a list")
    return value


def _strings(rel: str, doc: Dict[str, Any], key: str) -> List[str]:
    value = _list(rel, doc, key)
    if not all(isinstance(v, str) for v in value):
        raise ValueError(f"{rel}: {key} must be a list of strings")
    return list(value)


def _check(rel: str, where: str, value: Any, message: Any) -> None:
    """Validates protobuf JSON (field names and types) against ``message``."""
    try:
        json_format.ParseDict(value, message)
    except json_format.ParseError as error:
        raise ValueError(f"{rel}: {where}: {error}") from None


def _policy(rel: str, policy: Any) -> Optional[Dict[str, Any]]:
    if policy is None:
        return None
    _check(rel, "policy", policy, policy_pb2.Policy())
    return canonical_policy(policy)


def _deny_rules(rel: str, doc: Dict[str, Any]) -> List[Dict[str, Any]]:
    rules = _list(rel, doc, "denyRules")
    for i, rule in enumerate(rules):
        _check(rel, f"denyRules[{i}]", rule, deny_policy_pb2.DenyRule())
    return list(rules)


@dataclass
class Change:
    #: create, move, rename, set_policy, set_deny_policy, create_role, update_role, create_shared_policy,
    #: update_shared_policy, bind, unbind, delete, delete_shared_policy, delete_role
    kind: str
    #: What it changes: a resource, role or shared policy name; for bind and unbind the shared policy's.
    name: str
    detail: str = ""
    resource: Optional[EstateResource] = None
    etag: Any = None
    role: Optional[EstateRole] = None
    shared_policy: Optional[EstateSharedPolicy] = None
    #: bind, unbind: the target resource.
    target: str = ""
    #: set_policy: the policy to set (None: delete it); update_role: whether the role is undeleted first.
    policy: Optional[Dict[str, Any]] = None
    undelete: bool = False


_SIGNS = {"create": "+", "create_role": "+", "create_shared_policy": "+", "bind": "+", "move": ">", "delete": "-",
          "delete_role": "-", "delete_shared_policy": "-", "unbind": "-"}


@dataclass
class Plan:
    subtree: str
    changes: List[Change] = field(default_factory=list)
    #: Objects on the server that the files do not have, left alone because ``prune`` was not asked.
    unmanaged: List[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"{_SIGNS.get(c.kind, '~')} {c.kind.replace('_', ' ')} {c.name}{(': ' + c.detail) if c.detail else ''}"
                 for c in self.changes]
        if self.unmanaged:
            lines.append(f"{len(self.unmanaged)} object(s) on the server are not in the files and stay")
        return "\n".join(lines + [f"{len(self.changes)} change(s)" if self.changes else "No changes."])


def plan_apply(client: Any, estate: Estate, prune: bool = False) -> Plan:
    """What would change to make the server's subtree match ``estate`` (deletions only with ``prune``), in the order
    apply_plan makes them: resources parents first, roles, shared policies, policies and deny policies, bindings;
    then the deletions: bindings, resources deepest first, shared policies, roles."""
    state = _read(client, estate.subtree)
    wanted = {r.name: r for r in estate.resources}

    def depth(name: str) -> int:
        d, r = 0, wanted.get(name)
        while r and r.parent in wanted and d < len(wanted):
            d, r = d + 1, wanted.get(r.parent)
        return d

    plan = Plan(estate.subtree)
    changes = plan.changes
    ordered = sorted(estate.resources, key=lambda r: (depth(r.name), r.name))
    for r in ordered:
        current = state.resources.get(r.name)
        if current is None:
            changes.append(Change("create", r.name, f"parent {r.parent}" if r.parent else "", r))
            continue
        stored = current.stored
        if stored.parent != r.parent:
            changes.append(Change("move", r.name, f"{stored.parent or '(root)'} -> {r.parent or '(root)'}", r, stored.etag))
        elif stored.display_name != r.display_name:
            changes.append(Change("rename", r.name, f"{stored.display_name!r} -> {r.display_name!r}", r, stored.etag))
    for role in estate.roles:
        current = state.roles.get(role.name)
        if current is None:
            changes.append(Change("create_role", role.name, role=role))
        elif current.deleted or _estate_role(current) != role:
            changes.append(Change("update_role", role.name, "undelete" if current.deleted else "", role=role,
                                  etag=current.etag, undelete=current.deleted))
    for sp in estate.shared_policies:
        current = state.shared_policies.get(sp.name)
        if current is None:
            changes.append(Change("create_shared_policy", sp.name, shared_policy=sp))
            if sp.policy:
                changes.append(Change("set_policy", sp.name, _binding_diff(None, sp.policy), policy=sp.policy))
            continue
        have = current.estate
        if (have.display_name, have.description, have.bindings, have.deny_rules) != (
                sp.display_name, sp.description, sp.bindings, sp.deny_rules):
            changes.append(Change("update_shared_policy", sp.name, _binding_diff({"bindings": have.bindings}, {"bindings": sp.bindings}),
                                  shared_policy=sp, etag=current.etag))
        if have.policy != sp.policy:
            changes.append(Change("set_policy", sp.name, _binding_diff(have.policy, sp.policy), etag=current.policy_etag,
                                  policy=sp.policy))
    for r in ordered:
        current = state.resources.get(r.name)
        have = current.estate if current else EstateResource(r.name)
        if have.policy != r.policy:
            changes.append(Change("set_policy", r.name, _binding_diff(have.policy, r.policy), r,
                                  current.policy_etag if current else None, policy=r.policy))
        if have.deny_rules != r.deny_rules:
            changes.append(Change("set_deny_policy", r.name, f"{len(have.deny_rules)} -> {len(r.deny_rules)} rule(s)", r,
                                  current.deny_etag if current else None))
    for sp in estate.shared_policies:
        current = state.shared_policies.get(sp.name)
        bound = set(current.estate.targets) if current else set()
        changes.extend(Change("bind", sp.name, f"to {t}", target=t) for t in sp.targets if t not in bound)

    removals: List[Change] = []
    wanted_shared = {sp.name: sp for sp in estate.shared_policies}
    for name, current in sorted(state.shared_policies.items()):
        keep = set(wanted_shared[name].targets) if name in wanted_shared else set()
        removals.extend(Change("unbind", name, f"from {t}", target=t) for t in current.estate.targets if t not in keep)

    def server_depth(name: str) -> int:
        d, s = 0, state.resources.get(name)
        while s and s.stored.parent in state.resources:
            d, s = d + 1, state.resources.get(s.stored.parent)
        return d
    gone = [s for s in state.resources.values() if s.estate.name not in wanted]
    for s in sorted(gone, key=lambda s: (-server_depth(s.estate.name), s.estate.name)):
        removals.append(Change("delete", s.estate.name, "", s.estate, s.stored.etag))
    for name, current in sorted(state.shared_policies.items()):
        if name not in wanted_shared:
            removals.append(Change("delete_shared_policy", name, etag=current.etag))
    wanted_roles = {r.name for r in estate.roles}
    for name, role in sorted(state.roles.items()):
        if not role.deleted and name not in wanted_roles:
            removals.append(Change("delete_role", name, etag=role.etag))
    if prune:
        changes.extend(removals)
    else:
        plan.unmanaged = [f"{c.kind.replace('_', ' ')} {c.name}{(' ' + c.detail) if c.detail else ''}" for c in removals]
    return plan


class ApplyAborted(PolicyServiceError):
    """A concurrent edit (or conflicting write) stopped the apply; the changes before it were made."""


def _grants_builtin_roles_only(policy: Optional[Dict[str, Any]]) -> bool:
    return bool(policy) and all(b["role"].startswith("roles/") for b in policy.get("bindings", []))


def apply_plan(client: Any, plan: Plan) -> int:
    """Makes the plan's changes in order (creations through ResourceService.ImportResources, with their policies when
    these grant built-in roles only: a custom role's grant waits for the roles); each other write conditional on the
    etag the plan read. Returns how many were made; ApplyAborted on a refusal."""
    done = 0
    creations = [c for c in plan.changes if c.kind == "create"]
    created = {c.name for c in creations}
    # A new resource's first policy goes with it in the import, unless it names a custom role (created later).
    imported = {c.name for c in plan.changes
                if c.kind == "set_policy" and c.name in created and _grants_builtin_roles_only(c.policy)}
    for i in range(0, len(creations), IMPORT_BATCH):
        chunk = creations[i:i + IMPORT_BATCH]
        items = []
        for c in chunk:
            r = c.resource
            item: Dict[str, Any] = {"resource": {"name": r.name, "parent": r.parent, "display_name": r.display_name}}
            if r.name in imported:
                item["policy"] = json_format.ParseDict(r.policy, policy_pb2.Policy())
            items.append(item)
        response = client.resources.import_resources(items=items)
        if response.errors:
            e = response.errors[0]
            done += len(chunk) - len(response.errors)
            raise ApplyAborted(f"{chunk[e.index].name}: {e.message} (code {e.code}); {done} change(s) made before it: plan again")
        # Each resource, and its first policy when the import set it.
        done += len(chunk) + sum(1 for c in chunk if c.name in imported)
    for c in plan.changes:
        if c.kind == "create" or (c.kind == "set_policy" and c.name in imported):
            continue
        try:
            _make(client, c)
        except grpc.RpcError as error:
            raise ApplyAborted(f"{c.kind.replace('_', ' ')} {c.name}: {from_rpc_error(error)}; "
                               f"{done} change(s) made before it: plan again") from None
        except PolicyServiceError as error:
            raise ApplyAborted(f"{c.kind.replace('_', ' ')} {c.name} changed since the plan read it: {error}; "
                               f"{done} change(s) made before it: plan again") from None
        done += 1
    return done


def _make(client: Any, c: Change) -> None:
    r = c.resource
    if c.kind in ("move", "rename"):
        client.resources.update_resource(resource={"name": r.name, "parent": r.parent, "display_name": r.display_name,
                                                   "etag": c.etag}, update_mask={"paths": ["parent", "display_name"]})
    elif c.kind == "set_policy":
        if c.policy is None:
            client.policies.delete_policy(resource=c.name, etag=c.etag)
        else:
            policy = json_format.ParseDict(c.policy, policy_pb2.Policy())
            if c.etag:
                policy.etag = c.etag
            client.policies.set_policy(resource=c.name, policy=policy,
                                       update_mask={"paths": ["bindings", "etag", "audit_configs"]})
    elif c.kind == "set_deny_policy":
        if not r.deny_rules:
            client.deny_policies.delete_deny_policy(resource=r.name, etag=c.etag)
        else:
            p = _deny_policy(r.name, r.deny_rules)
            if c.etag:
                p.etag = c.etag
            client.deny_policies.set_deny_policy(resource=r.name, deny_policy=p)
    elif c.kind == "create_role":
        org, role_id = c.role.name.split("/roles/", 1)
        client.roles.create_role(parent=org, role_id=role_id, role=_role_message(c.role))
    elif c.kind == "update_role":
        etag = c.etag
        if c.undelete:
            etag = client.roles.undelete_role(name=c.role.name, etag=etag).etag
        client.roles.update_role(role=_role_message(c.role, etag),
                                 update_mask={"paths": ["title", "description", "included_permissions", "stage"]})
    elif c.kind == "create_shared_policy":
        sp = c.shared_policy
        client.shared_policies.create_shared_policy(parent=sp.parent, shared_policy_id=sp.name[len(SHARED_COLLECTION) + 1:],
                                                    shared_policy=_shared_policy_message(sp))
    elif c.kind == "update_shared_policy":
        message = _shared_policy_message(c.shared_policy)
        message.name, message.etag = c.name, c.etag
        client.shared_policies.update_shared_policy(
            shared_policy=message, update_mask={"paths": ["display_name", "description", "bindings", "deny_rules"]})
    elif c.kind == "bind":
        client.shared_policies.create_shared_policy_binding(binding={"shared_policy": c.name, "target": c.target})
    elif c.kind == "unbind":
        client.shared_policies.delete_shared_policy_binding(shared_policy=c.name, target=c.target)
    elif c.kind == "delete":
        client.resources.delete_resource(name=c.name, etag=c.etag)
    elif c.kind == "delete_shared_policy":
        client.shared_policies.delete_shared_policy(name=c.name, etag=c.etag)
    elif c.kind == "delete_role":
        client.roles.delete_role(name=c.name, etag=c.etag)


# -- messages ----------------------------------------------------------------------------------------------------

def _deny_policy(resource: str, rules: List[Dict[str, Any]]) -> Any:
    p = deny_policy_pb2.DenyPolicy(resource=resource)
    for rule in rules:
        json_format.ParseDict(rule, p.rules.add())
    return p


def _role_message(role: EstateRole, etag: bytes = b"") -> Any:
    return role_pb2.Role(name=role.name, title=role.title, description=role.description,
                         included_permissions=role.included_permissions,
                         stage=role_pb2.RoleStage.Value(f"ROLE_STAGE_{role.stage}"), etag=etag)


def _shared_policy_message(sp: EstateSharedPolicy) -> Any:
    message = shared_policy_pb2.SharedPolicy(display_name=sp.display_name, description=sp.description)
    for b in sp.bindings:
        json_format.ParseDict(b, message.bindings.add())
    for rule in sp.deny_rules:
        json_format.ParseDict(rule, message.deny_rules.add())
    return message


def _estate_role(role: Any) -> EstateRole:
    stage = role_pb2.RoleStage.Name(role.stage).replace("ROLE_STAGE_", "")
    return EstateRole(role.name, role.title, role.description, sorted(role.included_permissions),
                      "GA" if stage == "UNSPECIFIED" else stage)


# -- reading the server ------------------------------------------------------------------------------------------

@dataclass
class _ResourceState:
    stored: Any
    estate: EstateResource
    policy_etag: bytes
    deny_etag: bytes


@dataclass
class _SharedState:
    estate: EstateSharedPolicy
    etag: bytes
    policy_etag: bytes


@dataclass
class _State:
    #: By name; empty when the subtree's root does not exist.
    resources: Dict[str, _ResourceState] = field(default_factory=dict)
    #: Custom roles of the subtree's organizations, deleted ones included (role_pb2.Role).
    roles: Dict[str, Any] = field(default_factory=dict)
    shared_policies: Dict[str, _SharedState] = field(default_factory=dict)


def _pages(method: Any, items: str, **fields: Any) -> List[Any]:
    out, token = [], ""
    while True:
        page = method(page_size=PAGE, page_token=token, **fields)
        out.extend(getattr(page, items))
        token = page.next_page_token
        if not token:
            return out


def _read(client: Any, subtree: str) -> _State:
    """The subtree on the server, every object with its etag."""
    from .errors import NotFoundError
    state = _State()
    try:
        root = client.resources.get_resource(name=subtree)
    except NotFoundError:
        return state
    resources, level, shared_names = [root], [root], []
    while level:
        children = []
        for parent in level:
            for child in _pages(client.resources.list_resources, "resources", parent=parent.name):
                if child.type == SHARED_POLICY_TYPE:
                    shared_names.append(child.name)
                else:
                    children.append(child)
        resources.extend(children)
        level = children
    for r in resources:
        policy = client.policies.get_policy(resource=r.name, options={"requested_policy_version": 3})
        d = client.deny_policies.get_deny_policy(resource=r.name)
        estate = EstateResource(r.name, r.parent, r.display_name, canonical_policy(_json(policy)), [_json(rule) for rule in d.rules])
        state.resources[r.name] = _ResourceState(r, estate, policy.etag, d.etag)
    for org in (r for r in resources if not r.parent):
        for role in _pages(client.roles.list_roles, "roles", parent=org.name, view=role_pb2.ROLE_VIEW_FULL, show_deleted=True):
            state.roles[role.name] = role
    for name in shared_names:
        sp = client.shared_policies.get_shared_policy(name=name)
        bindings = _pages(client.shared_policies.list_shared_policy_bindings, "bindings", shared_policy=name)
        policy = client.policies.get_policy(resource=name, options={"requested_policy_version": 3})
        sp_json = _json(sp)
        estate = EstateSharedPolicy(name, sp.parent, sp.display_name, sp.description,
                                    canonical_bindings(sp_json.get("bindings", [])), sp_json.get("denyRules", []),
                                    sorted(b.target for b in bindings if b.target in state.resources),
                                    canonical_policy(_json(policy)))
        state.shared_policies[name] = _SharedState(estate, sp.etag, policy.etag)
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
