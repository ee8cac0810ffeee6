// An organization's custom roles: listed (deleted ones too), created, edited, disabled, deleted and undeleted, each
// with its etag; controls enabled by the caller's permissions on the organization.
import { useEffect, useState } from "preact/hooks";
import { RoleStage, type Role } from "../../gen/policy/v1/role_pb.js";
import { api } from "./api.js";
import { fieldProblem, problemOf, type Problem } from "./problems.js";
import type { Schema } from "./schema.js";
import { usePermissions } from "./session.js";
import { ErrorBox, formatTime, TextField, Wide, words } from "./ui.js";

const STAGES = [RoleStage.GA, RoleStage.BETA, RoleStage.DEPRECATED, RoleStage.DISABLED];
const stageName = (s: RoleStage) => RoleStage[s]?.replace(/^ROLE_STAGE_/, "") ?? "";

interface RoleForm {
  id: string;
  title: string;
  description: string;
  permissions: string;
  stage: RoleStage;
}

export function CustomRoles({ schema, organization }: { schema: Schema; organization: string }) {
  const [roles, setRoles] = useState<Role[]>();
  const [problem, setProblem] = useState<Problem>();
  const [status, setStatus] = useState("");
  const [editing, setEditing] = useState<{ role?: Role; form: RoleForm }>();
  const [formProblem, setFormProblem] = useState<Problem>();
  const [version, setVersion] = useState(0);
  const held = usePermissions(schema, organization, [
    "organizations.createRole",
    "organizations.updateRole",
    "organizations.deleteRole",
    "organizations.undeleteRole",
  ]);
  const may = (p: string) => held?.has(`organizations.${p}`) ?? false;

  useEffect(() => {
    setProblem(undefined);
    (async () => {
      const all: Role[] = [];
      let pageToken = "";
      do {
        const page = await api.roles.listRoles({ parent: organization, showDeleted: true, pageSize: 1000, pageToken });
        all.push(...page.roles);
        pageToken = page.nextPageToken;
      } while (pageToken);
      setRoles(all);
    })().catch((e) => setProblem(problemOf(e)));
  }, [organization, version]);

  async function run(what: string, call: () => Promise<Role>) {
    setProblem(undefined);
    setStatus("");
    try {
      const role = await call();
      setStatus(`${what}: ${role.name}`);
      setVersion((v) => v + 1);
    } catch (e) {
      setProblem(problemOf(e));
    }
  }

  async function submit(e: Event) {
    e.preventDefault();
    const { role, form } = editing!;
    setFormProblem(undefined);
    const fields = { title: form.title.trim(), description: form.description.trim(), includedPermissions: words(form.permissions), stage: form.stage };
    try {
      const saved = role
        ? await api.roles.updateRole({ role: { ...fields, name: role.name, etag: role.etag } })
        : await api.roles.createRole({ parent: organization, roleId: form.id.trim(), role: fields });
      setEditing(undefined);
      setStatus(`${role ? "Saved" : "Created"}: ${saved.name}`);
      setVersion((v) => v + 1);
    } catch (err) {
      setFormProblem(problemOf(err));
    }
  }

  const unknown = editing ? words(editing.form.permissions).find((p) => !schema.knows(p)) : undefined;
  return (
    <section aria-label="Custom roles">
      <p class="muted">Custom roles of {organization}: grantable on it and everything under it, named {organization}/roles/…</p>
      <ErrorBox problem={problem} />
      <p role="status" class="muted">
        {status}
      </p>
      {roles && (
        <Wide>
          <table class="roles">
            <thead>
              <tr>
                <th scope="col">Role</th>
                <th scope="col">Title</th>
                <th scope="col">Permissions</th>
                <th scope="col">Stage</th>
                <th scope="col">Updated</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {roles.map((r) => (
                <tr key={r.name} data-role={r.name} class={r.deleted ? "deleted" : undefined}>
                  <td>
                    <code>{r.name}</code>
                    {r.deleted && <span class="badge">deleted {formatTime(r.deleteTime)}</span>}
                  </td>
                  <td>{r.title}</td>
                  <td>
                    {r.includedPermissions.map((p) => (
                      <code class="chip" key={p}>
                        {p}
                      </code>
                    ))}
                  </td>
                  <td>{stageName(r.stage)}</td>
                  <td>{formatTime(r.updateTime)}</td>
                  <td class="row-actions">
                    {!r.deleted && (
                      <>
                        <button
                          type="button"
                          disabled={!may("updateRole")}
                          onClick={() =>
                            setEditing({
                              role: r,
                              form: { id: r.name.split("/").at(-1)!, title: r.title, description: r.description, permissions: r.includedPermissions.join(" "), stage: r.stage },
                            })
                          }
                        >
                          Edit {r.name.split("/").at(-1)}
                        </button>
                        {r.stage !== RoleStage.DISABLED && (
                          <button
                            type="button"
                            disabled={!may("updateRole")}
                            onClick={() => void run("Disabled", () => api.roles.updateRole({ role: { name: r.name, etag: r.etag, stage: RoleStage.DISABLED }, updateMask: { paths: ["stage"] } }))}
                          >
                            Disable {r.name.split("/").at(-1)}
                          </button>
                        )}
                        <button
                          type="button"
                          class="danger"
                          disabled={!may("deleteRole")}
                          onClick={() => void run("Deleted", () => api.roles.deleteRole({ name: r.name, etag: r.etag }))}
                        >
                          Delete {r.name.split("/").at(-1)}
                        </button>
                      </>
                    )}
                    {r.deleted && (
                      <button
                        type="button"
                        disabled={!may("undeleteRole")}
                        onClick={() => void run("Undeleted", () => api.roles.undeleteRole({ name: r.name, etag: r.etag }))}
                      >
                        Undelete {r.name.split("/").at(-1)}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
              {roles.length === 0 && (
                <tr>
                  <td colSpan={6} class="muted">
                    No custom roles.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </Wide>
      )}
      {!editing && (
        <button
          type="button"
          disabled={!may("createRole")}
          onClick={() => setEditing({ form: { id: "", title: "", description: "", permissions: "", stage: RoleStage.GA } })}
        >
          New custom role
        </button>
      )}
      {editing && (
        <form class="form" onSubmit={submit} aria-label={editing.role ? `Edit ${editing.role.name}` : "New custom role"}>
          <h2>{editing.role ? `Edit ${editing.role.name}` : "New custom role"}</h2>
          {!editing.role && (
            <TextField
              label="Role id"
              value={editing.form.id}
              onInput={(v) => setEditing({ ...editing, form: { ...editing.form, id: v } })}
              hint={`3 to 64 letters, digits, _ and ., starting with a letter: ${organization}/roles/{id}`}
              error={fieldProblem(formProblem, "role_id")}
            />
          )}
          <TextField label="Title" value={editing.form.title} onInput={(v) => setEditing({ ...editing, form: { ...editing.form, title: v } })} error={fieldProblem(formProblem, "role.title")} />
          <TextField
            label="Description"
            value={editing.form.description}
            onInput={(v) => setEditing({ ...editing, form: { ...editing.form, description: v } })}
            error={fieldProblem(formProblem, "role.description")}
          />
          <TextField
            label="Permissions"
            value={editing.form.permissions}
            onInput={(v) => setEditing({ ...editing, form: { ...editing.form, permissions: v } })}
            list="role-permissions"
            multiline
            hint="Concrete permissions the schema knows, separated by spaces, e.g. projects.get projects.update"
            error={(unknown ? `"${unknown}" is not a permission the schema knows` : undefined) ?? formProblem?.fields.find((f) => f.field.startsWith("role.included_permissions"))?.description}
          />
          <datalist id="role-permissions">
            {schema.permissions.map((p) => (
              <option key={p} value={p} />
            ))}
          </datalist>
          <div class="field">
            <label for="role-stage">Stage</label>
            <select
              id="role-stage"
              value={String(editing.form.stage)}
              onChange={(e) => setEditing({ ...editing, form: { ...editing.form, stage: Number((e.currentTarget as HTMLSelectElement).value) as RoleStage } })}
            >
              {STAGES.map((s) => (
                <option key={s} value={String(s)}>
                  {stageName(s)}
                </option>
              ))}
            </select>
          </div>
          <ErrorBox problem={formProblem} />
          <div class="actions">
            <button type="button" onClick={() => (setEditing(undefined), setFormProblem(undefined))}>
              Cancel
            </button>
            <button type="submit" class="primary" disabled={unknown !== undefined || words(editing.form.permissions).length === 0}>
              {editing.role ? "Save role" : "Create role"}
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
