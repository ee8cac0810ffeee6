// The data every engine of the access benchmark is built from, and the decisions all of them are asked.
//
// One checked hierarchy of depth 4 — organizations/acme -> folders/acme-eng -> folders/acme-eng-platform ->
// projects/acme-api — with 10 bindings on each level (10 different roles, 2-3 members each, always a group), and
// unrelated filler organizations (each: org -> 2 folders -> 2 folders each -> 5 projects each; 10 bindings on orgs and
// folders, 4 on projects) until the total number of stored bindings is reached. The checked hierarchy is emitted in the
// middle of the filler, so that an engine which scans its rules in insertion order meets it halfway, as on average.
//
// The model is described by a deterministic generator, not stored: every engine's build walks it again and so owns
// every string it keeps (the heap numbers are not flattered by sharing strings with a stored dataset).

export interface BindingSpec {
  role: string;
  /** `user:{email}` and `group:{id}` members. */
  members: string[];
}

export interface ModelVisitor {
  /** A resource, always after its parent, with its bindings (possibly none). */
  resource(name: string, parent: string, type: string, bindings: BindingSpec[]): void;
  /** A group membership (only casbin stores these; the other two take the group set from the request). */
  membership(user: string, group: string): void;
}

export interface Principal {
  /** `user:{email}` */
  user: string;
  /** `group:{id}` */
  groups: string[];
}

export interface Query {
  principal: Principal;
  /** The resource checked, then its ancestors up to the root (name and schema type). */
  chain: { name: string; type: string }[];
  permission: string;
}

export interface ExpectedQuery extends Query {
  granted: boolean;
  why: string;
}

export const TARGET_CHAIN = [
  { name: "projects/acme-api", type: "project" },
  { name: "folders/acme-eng-platform", type: "folder" },
  { name: "folders/acme-eng", type: "folder" },
  { name: "organizations/acme", type: "organization" },
];
export const TARGET = TARGET_CHAIN[0]!.name;
/** Bindings on the checked hierarchy. */
export const TARGET_BINDINGS = 40;

export const alice: Principal = { user: "user:alice@example.com", groups: ["group:eng", "group:platform"] };
export const bob: Principal = { user: "user:bob@example.com", groups: ["group:contractors"] };
export const carol: Principal = { user: "user:carol@example.com", groups: [] };

const q = (principal: Principal, permission: string, granted: boolean, why: string): ExpectedQuery => ({
  principal,
  chain: TARGET_CHAIN,
  permission,
  granted,
  why,
});

/** The decisions measured, all on the depth-4 project; half granted (from every level, directly and via a group). */
export const QUERIES: readonly ExpectedQuery[] = [
  q(alice, "logs.read", true, "roles/auditor on the organization, as user (3 levels up)"),
  q(alice, "metrics.read", true, "roles/auditor on the organization, as user (3 levels up)"),
  q(alice, "folders.get", true, "roles/viewer on folders/acme-eng, via group:eng (2 levels up)"),
  q(alice, "deployments.delete", true, "roles/deployer on folders/acme-eng-platform, via group:platform"),
  q(bob, "deployments.create", true, "roles/deployer on folders/acme-eng-platform, as user"),
  q(bob, "logs.read", true, "roles/developer on the project, via group:contractors"),
  q(carol, "projects.update", true, "roles/developer on the project, as user"),
  q(bob, "billing.get", true, "roles/billingViewer on folders/acme-eng, via group:contractors"),
  q(alice, "projects.delete", false, "only owners have it; alice is none"),
  q(alice, "secrets.get", false, "granted to group:security and others; alice is in none of them"),
  q(alice, "projects.update", false, "editor/owner/developer bindings name others"),
  q(bob, "policies.set", false, "no binding of bob's grants it"),
  q(bob, "organizations.get", false, "no binding of bob's on the organization"),
  q(carol, "logs.write", false, "roles/logWriter names others"),
  q(carol, "secrets.update", false, "no binding of carol's grants it"),
  q(carol, "billing.update", false, "roles/billingAdmin names group:finance and others"),
];

/** Roles of each type, in the order of bench/access-schema.yaml. */
export const ROLES: Record<string, readonly string[]> = {
  organization: [
    "roles/owner", "roles/viewer", "roles/billingAdmin", "roles/billingViewer", "roles/securityAdmin",
    "roles/auditor", "roles/projectCreator", "roles/deployer", "roles/support", "roles/folderAdmin",
  ],
  folder: [
    "roles/owner", "roles/editor", "roles/viewer", "roles/projectCreator", "roles/deployer",
    "roles/secretReader", "roles/logViewer", "roles/metricsViewer", "roles/policyAdmin", "roles/billingViewer",
  ],
  project: [
    "roles/owner", "roles/editor", "roles/viewer", "roles/developer", "roles/deployer",
    "roles/secretAdmin", "roles/secretReader", "roles/logWriter", "roles/metricsViewer", "roles/policyViewer",
  ],
};

/** The checked hierarchy's bindings: ten per level, the ones that matter to the queries spelled out. */
function targetBindings(level: string, type: string, special: Record<string, string[]>): BindingSpec[] {
  return ROLES[type]!.map((role, i) => ({
    role,
    members: special[role] ?? [`user:${level}-${i}a@example.com`, `user:${level}-${i}b@example.com`, `group:${level}-${i}`],
  }));
}

function emitTarget(v: ModelVisitor): void {
  v.resource("organizations/acme", "", "organization", targetBindings("acme", "organization", {
    "roles/auditor": ["user:alice@example.com", "user:acme-aud@example.com", "group:security"],
    "roles/securityAdmin": ["group:security", "user:acme-sec@example.com"],
    "roles/billingAdmin": ["user:acme-fin@example.com", "group:finance"],
  }));
  v.resource("folders/acme-eng", "organizations/acme", "folder", targetBindings("eng", "folder", {
    "roles/viewer": ["group:eng", "user:eng-lead@example.com"],
    "roles/billingViewer": ["group:contractors", "user:eng-fin@example.com", "group:finance"],
  }));
  v.resource("folders/acme-eng-platform", "folders/acme-eng", "folder", targetBindings("platform", "folder", {
    "roles/deployer": ["group:platform", "user:bob@example.com"],
  }));
  v.resource("projects/acme-api", "folders/acme-eng-platform", "project", targetBindings("api", "project", {
    "roles/developer": ["user:carol@example.com", "group:contractors", "user:api-dev@example.com"],
  }));
  v.membership("user:alice@example.com", "group:eng");
  v.membership("user:alice@example.com", "group:platform");
  v.membership("user:bob@example.com", "group:contractors");
}

/** mulberry32: small, fast, deterministic. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const USERS_PER_ORG = 20;
const GROUPS_PER_ORG = 5;
export const FILLER_BINDINGS_PER_ORG = 10 + 2 * 10 + 4 * 10 + 20 * 4;

/** Walks the whole model: `stored` bindings in total, the checked hierarchy's 40 included. */
export function walkModel(stored: number, v: ModelVisitor): void {
  if (stored < TARGET_BINDINGS) throw new Error(`at least ${TARGET_BINDINGS} bindings`);
  let budget = stored - TARGET_BINDINGS;
  const orgs = Math.ceil(budget / FILLER_BINDINGS_PER_ORG);
  const half = Math.floor(orgs / 2);
  const random = rng(42);
  const pick = (n: number) => Math.floor(random() * n);

  const bindingsFor = (k: number, type: string, count: number): BindingSpec[] => {
    const n = Math.min(count, budget);
    budget -= n;
    const roles = ROLES[type]!;
    const offset = pick(roles.length);
    return Array.from({ length: n }, (_, i) => {
      const members = [`user:o${k}-u${pick(USERS_PER_ORG)}@example.com`];
      if (random() < 0.5) members.push(`user:o${k}-u${pick(USERS_PER_ORG)}@example.com`);
      // One group in ten is shared across organizations (and is one of alice's): unrelated rules that still name her.
      members.push(random() < 0.1 ? "group:eng" : `group:o${k}-g${pick(GROUPS_PER_ORG)}`);
      return { role: roles[(offset + i) % roles.length]!, members: [...new Set(members)] };
    });
  };

  const emitFiller = (k: number) => {
    const org = `organizations/o${k}`;
    v.resource(org, "", "organization", bindingsFor(k, "organization", 10));
    for (let a = 0; a < 2; a++) {
      const f = `folders/o${k}-f${a}`;
      v.resource(f, org, "folder", bindingsFor(k, "folder", 10));
      for (let b = 0; b < 2; b++) {
        const sub = `${f}-${b}`;
        v.resource(sub, f, "folder", bindingsFor(k, "folder", 10));
        for (let c = 0; c < 5; c++) v.resource(`projects/o${k}-f${a}-${b}-p${c}`, sub, "project", bindingsFor(k, "project", 4));
      }
    }
    for (let j = 0; j < USERS_PER_ORG; j++) {
      v.membership(`user:o${k}-u${j}@example.com`, `group:o${k}-g${j % GROUPS_PER_ORG}`);
      if (j % 10 === 0) v.membership(`user:o${k}-u${j}@example.com`, "group:eng");
    }
  };

  for (let k = 0; k < half; k++) emitFiller(k);
  emitTarget(v);
  for (let k = half; k < orgs; k++) emitFiller(k);
}

/** A stored copy of the model, for drawing random decisions across all of it (small sizes only). */
export interface MaterializedModel {
  resources: Map<string, { parent: string; type: string; bindings: BindingSpec[] }>;
  groupsOf: Map<string, string[]>;
}

export function materialize(stored: number): MaterializedModel {
  const model: MaterializedModel = { resources: new Map(), groupsOf: new Map() };
  walkModel(stored, {
    resource: (name, parent, type, bindings) => model.resources.set(name, { parent, type, bindings }),
    membership: (user, group) => {
      const groups = model.groupsOf.get(user) ?? [];
      groups.push(group);
      model.groupsOf.set(user, groups);
    },
  });
  return model;
}

export function chainOf(model: MaterializedModel, resource: string): Query["chain"] {
  const chain: Query["chain"] = [];
  for (let name = resource; name !== ""; ) {
    const r = model.resources.get(name)!;
    chain.push({ name, type: r.type });
    name = r.parent;
  }
  return chain;
}

/**
 * `count` decisions drawn across the whole model (not only the checked hierarchy): half for a user named by a binding
 * on the resource's path (so many are granted), the rest for any user; any permission of the schema.
 */
export function randomQueries(model: MaterializedModel, permissions: readonly string[], count: number, seed = 7): Query[] {
  const random = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const names = [...model.resources.keys()];
  const users = [...new Set([...names.flatMap((n) => model.resources.get(n)!.bindings.flatMap((b) => b.members))])]
    .filter((m) => m.startsWith("user:"))
    .concat(alice.user, bob.user, carol.user);
  const principalOf = (user: string): Principal => ({ user, groups: model.groupsOf.get(user) ?? [] });
  return Array.from({ length: count }, () => {
    const chain = chainOf(model, pick(names));
    let user = pick(users);
    if (random() < 0.5) {
      const onPath = chain.flatMap((c) => model.resources.get(c.name)!.bindings.flatMap((b) => b.members));
      const direct = onPath.filter((m) => m.startsWith("user:"));
      if (direct.length > 0) user = pick(direct);
    }
    return { principal: principalOf(user), chain, permission: pick(permissions) };
  });
}
