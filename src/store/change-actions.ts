// Every change-log action, as `kind.verb`, in one list: the stores write only these (the compiler checks each
// `changeAction(kind, verb)`), the audit log accepts only these as a filter, and Watch's table of kinds and
// permissions (domain/watch-visibility.ts) must have a row for each. A row written by a newer version may still carry
// an action this list does not know: readers treat it as unknown (Watch shows it to administrators only).

/** The verbs of each kind of change, in the order the audit log lists them. */
export const CHANGE_VERBS = {
  resource: ["create", "update", "delete"],
  policy: ["set", "delete"],
  denyPolicy: ["set", "delete"],
  role: ["create", "update", "delete", "undelete"],
  sharedPolicy: ["create", "update", "delete"],
  sharedPolicyBinding: ["create", "delete"],
} as const;

/** What a change-log row is about. */
export type ChangeSubject = keyof typeof CHANGE_VERBS;

/** What a change did to its subject. */
export type ChangeVerb<S extends ChangeSubject = ChangeSubject> = (typeof CHANGE_VERBS)[S][number];

/** What a change-log row did (the audit log shows it as is; Watch gives each one a kind and a permission). */
export type ChangeAction = { [S in ChangeSubject]: `${S}.${ChangeVerb<S>}` }[ChangeSubject];

/** The action of `verb` on `subject`: the one way a store names what it logs. */
export function changeAction<S extends ChangeSubject>(subject: S, verb: ChangeVerb<S>): ChangeAction {
  return `${subject}.${verb}` as ChangeAction;
}

/** Every action, in the order of CHANGE_VERBS. */
export const CHANGE_ACTIONS: readonly ChangeAction[] = (Object.keys(CHANGE_VERBS) as ChangeSubject[]).flatMap((subject) =>
  CHANGE_VERBS[subject].map((verb: ChangeVerb) => `${subject}.${verb}` as ChangeAction),
);

/** Whether a stored action string is one this version knows. */
export function isChangeAction(action: string): action is ChangeAction {
  return (CHANGE_ACTIONS as readonly string[]).includes(action);
}

/** The subject of an action (`role` of `role.delete`). */
export function subjectOf(action: ChangeAction): ChangeSubject {
  return action.slice(0, action.indexOf(".")) as ChangeSubject;
}

/** The actions that end a resource: after one, a row of its name is about another resource. */
export const REMOVALS: readonly ChangeAction[] = [changeAction("resource", "delete"), changeAction("sharedPolicy", "delete")];

/** `actions` as a SQL list of literals, for a statement that filters the change log by action. */
export function sqlActions(actions: readonly ChangeAction[]): string {
  return actions.map((action) => `'${action}'`).join(", ");
}
