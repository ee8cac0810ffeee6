// A project owner rewrites its own project's policy as fast as 16 concurrent callers can, each time with the most
// members a policy may hold: ordinary work at its maximum, which must not slow other organizations' reads.
import type { Attack } from "./attack.js";

const CALLERS = 16;
const MEMBERS = 1_500;

export const attack: Attack = {
  name: "write flood",
  description: `a project owner rewrites its policy with ${MEMBERS} members from ${CALLERS} concurrent callers`,
  async run(ctx, signal) {
    const { attacker } = ctx;
    let n = 0;
    await Promise.all(
      Array.from({ length: CALLERS }, async () => {
        while (!signal.aborted) {
          const round = n++;
          // The owner's own binding stays: a write without it locks the attacker out (NOT_FOUND) after the first round.
          const members = Array.from({ length: MEMBERS - 1 }, (_, i) => `user:m${round}-${i}@attacker.example`);
          const bindings = [{ role: "roles/owner", members: [`user:${attacker.email}`] }, { role: "roles/readonly", members }];
          await attacker.grpc.policies
            .setPolicy({ resource: attacker.project, policy: { bindings } })
            .catch(() => {});
        }
      }),
    );
  },
};
