// A project owner puts the costliest regular expressions the service accepts into conditions on its own project —
// eight allow bindings and eight deny rules naming itself — and checks its own access (with `explain`, so that every
// binding is evaluated) with the attribute that makes them cost most, from 16 concurrent callers; meanwhile two more
// callers keep rewriting the policy with eight new such conditions and a stale etag (a refused write compiles its
// conditions too), and try issue 25's `(a|aa|aaa|aaaa){1000}`, which is refused when written.
import type { Attack } from "./attack.js";

const CHECKERS = 16;
const WRITERS = 2;
const CONDITIONS = 8;

/** 45 pieces of one to four a's (size ~870): the largest such repetition the write-time estimate accepts. */
const pattern = (tag: string) => `^(a|aa|aaa|aaaa){45}$|${tag}`;
const condition = (tag: string) => `request.attributes.s.matches('${pattern(tag)}')`;

export const attack: Attack = {
  name: "regex conditions",
  description: `a project owner writes ${CONDITIONS} conditions and ${CONDITIONS} deny conditions with the costliest accepted regular expressions, checks itself with ${CHECKERS} callers and rewrites them with a stale etag from ${WRITERS}`,
  async prepare(ctx) {
    const { attacker } = ctx;
    const me = `user:${attacker.email}`;
    const tags = Array.from({ length: CONDITIONS }, (_, i) => `z${i}`);
    await attacker.grpc.policies.setPolicy({
      resource: attacker.project,
      policy: {
        version: 3,
        bindings: [
          { role: "roles/owner", members: [me] },
          ...tags.map((tag) => ({ role: "roles/readonly", members: [me], condition: { expression: condition(tag) } })),
        ],
      },
    });
    await attacker.grpc.denyPolicies.setDenyPolicy({
      resource: attacker.project,
      denyPolicy: {
        rules: tags.map((tag) => ({ deniedPrincipals: [me], deniedPermissions: ["projects.delete"], denialCondition: { expression: condition(`d${tag}`) } })),
      },
    });
  },
  async run(ctx, signal) {
    const { attacker } = ctx;
    const me = `user:${attacker.email}`;
    const stale = (await attacker.grpc.policies.getPolicy({ resource: attacker.project, options: { requestedPolicyVersion: 3 } })).etag.map((b) => b ^ 0xff);
    let round = 0;
    const check = async () => {
      while (!signal.aborted) {
        // 100 a's: ~87,000 units per condition, most of a check's budget.
        const s = "a".repeat(90 + Math.floor(ctx.random() * 20));
        await attacker.grpc.access
          .checkAccess({
            resource: attacker.project,
            principals: [me],
            permissions: ["projects.get", "projects.delete", "projects.update"],
            attributes: { s: { kind: { case: "stringValue", value: s } } },
            explain: true,
          })
          .catch(() => {});
      }
    };
    const write = async () => {
      while (!signal.aborted) {
        const r = round++;
        const expressions = [
          ...Array.from({ length: CONDITIONS }, (_, i) => condition(`w${r}x${i}`)),
          r % 4 === 0 ? `request.attributes.s.matches('(a|aa|aaa|aaaa){1000}')` : undefined,
        ].filter((e): e is string => e !== undefined);
        await attacker.grpc.policies
          .setPolicy({
            resource: attacker.project,
            policy: {
              version: 3,
              etag: stale,
              bindings: [
                { role: "roles/owner", members: [me] },
                ...expressions.map((expression) => ({ role: "roles/readonly", members: [me], condition: { expression } })),
              ],
            },
          })
          .catch(() => {});
      }
    };
    await Promise.all([...Array.from({ length: CHECKERS }, check), ...Array.from({ length: WRITERS }, write)]);
  },
};
