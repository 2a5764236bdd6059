/**
 * Authorization by roles bound to users and groups: a role is a list of
 * rules (verbs × resources × namespaces); a binding gives a role to users
 * and groups. Deny unless a rule allows.
 *
 * @module
 */
import type { UserInfo } from "@tsk/api";

/** One rule: `*` matches anything in each list. */
export interface PolicyRule {
  /** `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`, or `*`. */
  verbs: string[];
  /** Plural resources, with subresources as `pods/status`; `*` for all. */
  resources: string[];
  /** Namespaces the rule covers; absent covers all and cluster-scoped kinds. */
  namespaces?: string[];
}

/** A named set of rules. */
export interface Role {
  /** The role's name. */
  name: string;
  /** The rules. */
  rules: PolicyRule[];
}

/** Gives a role to users and groups. */
export interface RoleBinding {
  /** The role's name. */
  role: string;
  /** User names. */
  users?: string[];
  /** Group names. */
  groups?: string[];
}

/** What is asked. */
export interface AuthorizationRequest {
  /** Who asks. */
  user: UserInfo;
  /** The verb. */
  verb: string;
  /** The resource, with `/subresource` when there is one. */
  resource: string;
  /** The namespace, absent for cluster-scoped kinds and all-namespace lists. */
  namespace?: string;
}

/** The roles every cluster has. */
export const BUILTIN_ROLES: readonly Role[] = [
  { name: "cluster-admin", rules: [{ verbs: ["*"], resources: ["*"] }] },
  { name: "view", rules: [{ verbs: ["get", "list", "watch"], resources: ["*"] }] },
  {
    name: "node",
    rules: [
      { verbs: ["get", "list", "watch"], resources: ["*"] },
      {
        verbs: ["create", "update", "patch"],
        resources: ["nodes", "nodes/status", "pods/status", "leases"],
      },
      { verbs: ["delete"], resources: ["pods"] },
      { verbs: ["create", "patch", "update"], resources: ["events"] },
    ],
  },
  {
    name: "scheduler",
    rules: [
      { verbs: ["get", "list", "watch"], resources: ["*"] },
      { verbs: ["create"], resources: ["pods/binding", "events"] },
      { verbs: ["update", "patch"], resources: ["pods/status", "events"] },
      { verbs: ["delete"], resources: ["pods"] },
      { verbs: ["*"], resources: ["leases"] },
    ],
  },
];

/** The bindings every cluster has. */
export const BUILTIN_BINDINGS: readonly RoleBinding[] = [
  { role: "cluster-admin", groups: ["system:masters"] },
  { role: "node", groups: ["system:nodes"] },
  { role: "scheduler", users: ["system:scheduler"] },
];

function matches(list: string[] | undefined, value: string | undefined): boolean {
  if (list === undefined) return true;
  return list.includes("*") || (value !== undefined && list.includes(value));
}

/**
 * Decides requests from roles and bindings.
 *
 * @example Allow a viewer to list pods but not delete them
 * ```ts
 * import { Authorizer } from "@tsk/sched";
 * const authz = new Authorizer({ bindings: [{ role: "view", users: ["bob"] }] });
 * const bob = { name: "bob", groups: [] };
 * console.log(authz.authorize({ user: bob, verb: "list", resource: "pods" }).allowed); // true
 * console.log(authz.authorize({ user: bob, verb: "delete", resource: "pods" }).allowed); // false
 * ```
 */
export class Authorizer {
  #roles = new Map<string, Role>();
  #bindings: RoleBinding[];

  /**
   * Creates an authorizer.
   * @param policy Extra roles and bindings; the built-in ones are always present.
   */
  constructor(policy: { roles?: Role[]; bindings?: RoleBinding[] } = {}) {
    for (const r of [...BUILTIN_ROLES, ...(policy.roles ?? [])]) this.#roles.set(r.name, r);
    this.#bindings = [...BUILTIN_BINDINGS, ...(policy.bindings ?? [])];
    for (const [i, b] of this.#bindings.entries()) {
      if (!this.#roles.has(b.role)) {
        throw new Error(`bindings[${i}].role: no role named ${JSON.stringify(b.role)}`);
      }
    }
  }

  /**
   * Decides one request.
   * @param req Who, what verb, which resource, which namespace.
   * @returns Whether it is allowed, and a reason naming the role or the missing permission.
   */
  authorize(req: AuthorizationRequest): { allowed: boolean; reason: string } {
    for (const b of this.#bindings) {
      const bound = (b.users ?? []).includes(req.user.name) ||
        (b.groups ?? []).some((g) => req.user.groups.includes(g));
      if (!bound) continue;
      const role = this.#roles.get(b.role)!;
      for (const rule of role.rules) {
        const resourceOk = matches(rule.resources, req.resource) ||
          (req.resource.includes("/") &&
            rule.resources.includes(`${req.resource.split("/")[0]}/*`));
        if (
          matches(rule.verbs, req.verb) && resourceOk &&
          (rule.namespaces === undefined || matches(rule.namespaces, req.namespace))
        ) {
          return { allowed: true, reason: `allowed by role ${role.name}` };
        }
      }
    }
    const where = req.namespace
      ? ` in the namespace ${JSON.stringify(req.namespace)}`
      : " at the cluster scope";
    return {
      allowed: false,
      reason: `User ${JSON.stringify(req.user.name)} cannot ${req.verb} resource ${
        JSON.stringify(req.resource)
      }${where}`,
    };
  }
}
