// The resource types the CLI knows, from the same schema YAML the server loads: `--resource-type cloud` means the
// collection `clouds`, so `--resource-id cld_abc123` names `clouds/cld_abc123`.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { CliError, UsageError } from "./errors.js";

export const BUILT_IN_SCHEMA = new URL("../../schema/default.yaml", import.meta.url);

export interface ResourceTypeInfo {
  name: string;
  collection: string;
  parents: string[];
  roles: string[];
}

export class ResourceTypes {
  constructor(readonly types: ReadonlyMap<string, ResourceTypeInfo>) {}

  static load(file?: string): ResourceTypes {
    const source = file ?? BUILT_IN_SCHEMA;
    let doc: unknown;
    try {
      doc = parse(readFileSync(source, "utf8"));
    } catch (e) {
      throw new CliError(`schema ${String(file ?? "default.yaml")}: ${(e as Error).message.split("\n")[0]}`);
    }
    const types = (doc as { types?: unknown } | null)?.types;
    if (!types || typeof types !== "object") throw new CliError(`schema ${String(file)}: expected a \`types\` mapping`);
    const map = new Map<string, ResourceTypeInfo>();
    for (const [name, def] of Object.entries(types as Record<string, Record<string, unknown>>)) {
      map.set(name, {
        name,
        collection: String(def?.collection ?? `${name}s`),
        parents: Array.isArray(def?.parents) ? def.parents.map(String) : [],
        roles: def?.roles && typeof def.roles === "object" ? Object.keys(def.roles) : [],
      });
    }
    return new ResourceTypes(map);
  }

  get names(): string[] {
    return [...this.types.keys()];
  }

  /** The type named `name` (a type name such as `cloud`, or its collection `clouds`). */
  get(name: string, command: string): ResourceTypeInfo {
    const type = this.types.get(name) ?? [...this.types.values()].find((t) => t.collection === name);
    if (!type) {
      throw new UsageError(`unknown resource type "${name}"; known types: ${this.names.join(", ")}`, command);
    }
    return type;
  }

  /** The type of a full resource name, from its collection; undefined if the schema has no such collection. */
  ofName(resourceName: string): ResourceTypeInfo | undefined {
    const collection = resourceName.split("/")[0];
    return [...this.types.values()].find((t) => t.collection === collection);
  }

  /** The type of the root that parents default to, e.g. `organization`; undefined when the schema has several. */
  get root(): ResourceTypeInfo | undefined {
    const roots = [...this.types.values()].filter((t) => t.parents.length === 0);
    return roots.length === 1 ? roots[0] : undefined;
  }
}
