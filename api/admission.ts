/**
 * The admission chain: every write passes mutating plugins (in order, each
 * may change the object) and then validating plugins (each may refuse it)
 * before it is stored. Other packages add plugins (the scheduler's priority
 * resolution, the network's service IP allocation) with `use()`.
 *
 * @module
 */
import { ApiError, type FieldError } from "./errors.ts";
import type { ApiObject } from "./meta.ts";
import type { ResourceInfo } from "./resources.ts";
import { applyDefaults } from "./defaults.ts";
import { throwIfInvalid, validateObject, validateUpdate } from "./validation.ts";

/** Who makes a request, as authentication established it. */
export interface UserInfo {
  /** The user name, e.g. `admin` or `system:node:n1`. */
  name: string;
  /** Groups, e.g. `system:masters`. */
  groups: string[];
}

/** One write on its way to the store. */
export interface AdmissionRequest {
  /** The kind of write. */
  operation: "CREATE" | "UPDATE" | "DELETE";
  /** The kind written. */
  resource: ResourceInfo;
  /** `status`, `scale` or `binding` for subresource writes. */
  subresource?: string;
  /** The namespace, for namespaced kinds. */
  namespace?: string;
  /** The object's name. */
  name?: string;
  /** The new object (CREATE, UPDATE); mutating plugins change it in place. */
  object?: ApiObject;
  /** The stored object (UPDATE, DELETE). */
  oldObject?: ApiObject;
  /** Who asked. */
  user: UserInfo;
}

/** A plugin that may change the object. */
export interface MutatingPlugin {
  /** Unique name, e.g. `Defaulting`. */
  name: string;
  /** Changes `request.object` in place; throws an `ApiError` to refuse. */
  mutate(request: AdmissionRequest): void | Promise<void>;
}

/** A plugin that may refuse the object. */
export interface ValidatingPlugin {
  /** Unique name, e.g. `Validation`. */
  name: string;
  /** Returns field errors (refused as Invalid), or throws an `ApiError`. */
  validate(request: AdmissionRequest): FieldError[] | void | Promise<FieldError[] | void>;
}

/** Raised when a plugin of that name is already in the chain. */
export class AdmissionError extends ApiError {
  /** Creates the error. @param message Names the plugin. @param options A cause. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, "Forbidden", 403, options);
    this.name = "AdmissionError";
  }
}

/**
 * An ordered chain of mutating then validating plugins.
 *
 * @example Add a label to every pod
 * ```ts
 * import { AdmissionChain, RESOURCES } from "@tsk/api";
 * const chain = new AdmissionChain().useMutating({
 *   name: "TeamLabel",
 *   mutate(req) {
 *     req.object!.metadata.labels = { ...req.object!.metadata.labels, team: "a" };
 *   },
 * });
 * const pod = await chain.admit({
 *   operation: "CREATE",
 *   resource: RESOURCES.find((r) => r.kind === "Pod")!,
 *   object: { apiVersion: "v1", kind: "Pod", metadata: { name: "p" } },
 *   user: { name: "admin", groups: [] },
 * });
 * console.log(pod?.metadata.labels); // { team: "a" }
 * ```
 */
export class AdmissionChain {
  #mutating: MutatingPlugin[] = [];
  #validating: ValidatingPlugin[] = [];

  /** The plugin names in the order they run. */
  get names(): string[] {
    return [...this.#mutating.map((p) => p.name), ...this.#validating.map((p) => p.name)];
  }

  /**
   * Appends a mutating plugin.
   * @param plugin The plugin; its name must be new.
   * @returns This chain.
   * @throws {AdmissionError} On a duplicate name.
   */
  useMutating(plugin: MutatingPlugin): this {
    if (this.names.includes(plugin.name)) {
      throw new AdmissionError(`admission: plugin ${plugin.name} is already registered`);
    }
    this.#mutating.push(plugin);
    return this;
  }

  /**
   * Appends a validating plugin.
   * @param plugin The plugin; its name must be new.
   * @returns This chain.
   * @throws {AdmissionError} On a duplicate name.
   */
  useValidating(plugin: ValidatingPlugin): this {
    if (this.names.includes(plugin.name)) {
      throw new AdmissionError(`admission: plugin ${plugin.name} is already registered`);
    }
    this.#validating.push(plugin);
    return this;
  }

  /**
   * Runs every mutating plugin, then every validating plugin.
   * @param request The write.
   * @returns The (possibly changed) object.
   * @throws {ApiError} A `ValidationError` listing every field error, or a plugin's refusal.
   */
  async admit(request: AdmissionRequest): Promise<ApiObject | undefined> {
    for (const p of this.#mutating) await p.mutate(request);
    const errors: FieldError[] = [];
    for (const p of this.#validating) {
      const errs = await p.validate(request);
      if (errs) errors.push(...errs);
    }
    throwIfInvalid(request.object ?? request.oldObject, errors);
    return request.object;
  }
}

/** The mutating plugin that applies {@linkcode applyDefaults}. */
export const defaultingPlugin: MutatingPlugin = {
  name: "Defaulting",
  mutate(req) {
    if (req.object && req.operation !== "DELETE") applyDefaults(req.object);
  },
};

/** The validating plugin that applies `validateObject` and `validateUpdate`. */
export const validationPlugin: ValidatingPlugin = {
  name: "Validation",
  validate(req) {
    if (!req.object || req.operation === "DELETE") return [];
    return req.operation === "UPDATE" && req.oldObject
      ? validateUpdate(req.object, req.oldObject)
      : validateObject(req.object);
  },
};

/**
 * A chain with the built-in plugins: defaulting, then validation.
 *
 * @returns A new chain that callers may extend.
 *
 * @example Validate a manifest through the chain
 * ```ts
 * import { defaultAdmissionChain } from "@tsk/api";
 * const chain = defaultAdmissionChain();
 * console.log(chain.names); // ["Defaulting", "Validation"]
 * ```
 */
export function defaultAdmissionChain(): AdmissionChain {
  return new AdmissionChain().useMutating(defaultingPlugin).useValidating(validationPlugin);
}
