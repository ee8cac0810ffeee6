// A resource's details, and the forms that create, move and delete resources (each write asks for confirmation
// where it cannot be undone, and shows the server's error with the field it names).
import { useState } from "preact/hooks";
import type { Resource } from "../../gen/policy/v1/resource_pb.js";
import { api } from "./api.js";
import { fieldProblem, problemOf, type Problem } from "./problems.js";
import type { Schema } from "./schema.js";
import { usePermissions } from "./session.js";
import { invalidateTree } from "./tree.js";
import { Confirm, ErrorBox, formatTime, ResourceLink, TextField } from "./ui.js";

export function CreateResource({ schema, type, parent }: { schema: Schema; type: string; parent: string }) {
  const info = schema.types.find((t) => t.name === type);
  const [id, setId] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [parentName, setParentName] = useState(parent);
  const [problem, setProblem] = useState<Problem>();
  const [busy, setBusy] = useState(false);
  if (!info) return <p role="alert">Unknown resource type "{type}".</p>;
  const name = `${info.collection}/${id.trim()}`;

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setProblem(undefined);
    try {
      const created = await api.resources.createResource({ resource: { name, parent: parentName.trim(), displayName: displayName.trim() } });
      invalidateTree(created.parent);
      location.hash = `#/${created.name}`;
    } catch (err) {
      setProblem(problemOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="create-title">
      <h1 id="create-title">New {info.name}</h1>
      <form onSubmit={submit} class="form">
        <TextField
          label="Id"
          name="id"
          value={id}
          onInput={setId}
          required
          hint={`The resource's name will be ${name}`}
          error={fieldProblem(problem, "resource.name")}
        />
        <TextField label="Display name" name="displayName" value={displayName} onInput={setDisplayName} error={fieldProblem(problem, "resource.display_name")} />
        {info.parents.length > 0 && (
          <TextField
            label="Parent"
            name="parent"
            value={parentName}
            onInput={setParentName}
            hint={`A ${info.parents.join(" or ")}, e.g. ${schema.types.find((t) => t.name === info.parents[0])?.collection}/…`}
            error={fieldProblem(problem, "resource.parent")}
          />
        )}
        <ErrorBox problem={problem} />
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            Create {info.name}
          </button>
        </div>
      </form>
    </section>
  );
}

export function ResourceDetails({ schema, resource, onChanged }: { schema: Schema; resource: Resource; onChanged: () => void }) {
  const [newParent, setNewParent] = useState(resource.parent);
  const [confirm, setConfirm] = useState<"move" | "delete">();
  const [cascade, setCascade] = useState(false);
  const [problem, setProblem] = useState<Problem>();
  const [status, setStatus] = useState("");
  const childTypes = schema.childTypes(resource.type).filter((t) => !t.collection.startsWith("sharedPolicies"));
  const collection = resource.name.slice(0, resource.name.indexOf("/"));
  const isShared = collection === "sharedPolicies";
  // One TestIamPermissions for every control of the page: those the caller may not use are not offered.
  const held = usePermissions(schema, resource.name, [
    `${collection}.update`,
    `${collection}.delete`,
    ...childTypes.map((t) => `${t.collection}.create`),
  ]);
  const may = (permission: string) => held?.has(permission) ?? false;

  async function move() {
    setConfirm(undefined);
    setProblem(undefined);
    try {
      const moved = await api.resources.updateResource({
        resource: { name: resource.name, parent: newParent.trim(), etag: resource.etag },
        updateMask: { paths: ["parent"] },
      });
      invalidateTree(resource.parent, moved.parent);
      setStatus(`Moved under ${moved.parent}`);
      onChanged();
    } catch (err) {
      setProblem(problemOf(err));
    }
  }

  async function remove() {
    setConfirm(undefined);
    setProblem(undefined);
    try {
      const res = await api.resources.deleteResource({ name: resource.name, etag: resource.etag, cascade });
      invalidateTree(resource.parent);
      setStatus(`Deleted ${res.deleted.join(", ")}`);
      location.hash = resource.parent ? `#/${resource.parent}` : "#/";
    } catch (err) {
      setProblem(problemOf(err));
    }
  }

  return (
    <section aria-label="Details">
      <dl class="details">
        <dt>Name</dt>
        <dd>{resource.name}</dd>
        <dt>Type</dt>
        <dd>{resource.type}</dd>
        <dt>Parent</dt>
        <dd>{resource.parent ? <ResourceLink name={resource.parent} /> : "none (a root)"}</dd>
        <dt>Display name</dt>
        <dd>{resource.displayName || <span class="muted">none</span>}</dd>
        <dt>Created</dt>
        <dd>{formatTime(resource.createTime)}</dd>
        <dt>Updated</dt>
        <dd>{formatTime(resource.updateTime)}</dd>
        <dt>Etag</dt>
        <dd>
          <code class="etag">{resource.etag}</code>
        </dd>
      </dl>
      {childTypes.length > 0 && (
        <div class="actions">
          {childTypes
            .filter((t) => may(`${t.collection}.create`))
            .map((t) => (
              <a class="button" key={t.name} href={`#/create/${t.name}/${resource.name}`}>
                New {t.name} in {resource.name}
              </a>
            ))}
        </div>
      )}
      <p role="status" class="muted">
        {status}
      </p>
      {isShared && (
        <p class="muted">
          A shared policy is created and deleted through its organization's Shared policies page, not moved or deleted as a resource.
        </p>
      )}
      {!isShared && may(`${collection}.update`) && schema.typeOf(resource.name)!.parents.length > 0 && (
        <form
          class="form inline"
          onSubmit={(e) => {
            e.preventDefault();
            setConfirm("move");
          }}
        >
          <TextField label="Move to parent" name="newParent" value={newParent} onInput={setNewParent} error={fieldProblem(problem, "resource.parent")} />
          <button type="submit" disabled={newParent.trim() === resource.parent}>
            Move…
          </button>
        </form>
      )}
      {!isShared && may(`${collection}.delete`) && (
        <div class="actions">
          <button type="button" class="danger" onClick={() => setConfirm("delete")}>
            Delete {resource.name}…
          </button>
        </div>
      )}
      {held && !isShared && !may(`${collection}.update`) && !may(`${collection}.delete`) && (
        <p class="muted">You may not move or delete this resource.</p>
      )}
      <ErrorBox problem={problem} />
      {confirm === "move" && (
        <Confirm title={`Move ${resource.name}?`} confirm="Move" onConfirm={() => void move()} onCancel={() => setConfirm(undefined)}>
          <p>
            From <code>{resource.parent}</code> to <code>{newParent.trim()}</code>. Roles granted on the old parent's chain no longer apply to it.
          </p>
        </Confirm>
      )}
      {confirm === "delete" && (
        <Confirm title={`Delete ${resource.name}?`} confirm="Delete" danger onConfirm={() => void remove()} onCancel={() => setConfirm(undefined)}>
          <p>Its policy goes with it. This cannot be undone.</p>
          <label class="check">
            <input type="checkbox" checked={cascade} onChange={(e) => setCascade((e.currentTarget as HTMLInputElement).checked)} /> Also delete
            everything under it
          </label>
        </Confirm>
      )}
    </section>
  );
}
