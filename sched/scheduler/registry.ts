/**
 * The plugin registry: a map from name to factory. Registering a name twice
 * is an error, so an out-of-tree plugin cannot silently replace a built-in.
 *
 * @module
 */
import type { PluginFactory } from "./plugin.ts";

/** Raised on scheduler configuration mistakes (unknown plugin, duplicate, bad args). */
export class SchedulerConfigError extends Error {
  /**
   * Creates it.
   *
   * @param message What is wrong, naming the field.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SchedulerConfigError";
  }
}

/**
 * Plugin factories by name.
 *
 * @example Register a plugin
 * ```ts
 * import { Registry } from "./registry.ts";
 * const r = new Registry();
 * r.register("Noop", () => ({ name: "Noop" }));
 * r.has("Noop"); // true
 * ```
 */
export class Registry {
  #factories = new Map<string, PluginFactory>();

  /**
   * Creates it.
   *
   * @param entries Initial factories.
   * @throws {SchedulerConfigError} On a duplicate name.
   */
  constructor(entries: Iterable<[string, PluginFactory]> = []) {
    for (const [n, f] of entries) this.register(n, f);
  }

  /**
   * Adds a factory.
   *
   * @param name Plugin name.
   * @param factory Factory.
   * @throws {SchedulerConfigError} When the name is taken.
   */
  register(name: string, factory: PluginFactory): void {
    if (this.#factories.has(name)) {
      throw new SchedulerConfigError(`registry: plugin ${name} is already registered`);
    }
    this.#factories.set(name, factory);
  }

  /**
   * Whether a name is registered.
   *
   * @param name Plugin name.
   * @returns True when registered.
   */
  has(name: string): boolean {
    return this.#factories.has(name);
  }

  /**
   * The factory for a name.
   *
   * @param name Plugin name.
   * @returns The factory.
   * @throws {SchedulerConfigError} When the name is unknown.
   */
  get(name: string): PluginFactory {
    const f = this.#factories.get(name);
    if (!f) {
      throw new SchedulerConfigError(
        `registry: unknown plugin ${name}: known plugins are ${
          [...this.#factories.keys()].join(", ")
        }`,
      );
    }
    return f;
  }

  /**
   * Registered names.
   *
   * @returns Names in registration order.
   */
  names(): string[] {
    return [...this.#factories.keys()];
  }
}
