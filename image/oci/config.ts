/**
 * The image config: what to run, with which environment, and the diff IDs
 * of the layers.
 *
 * @module
 */
import { ValidationError } from "../errors.ts";
import {
  array,
  json,
  nonEmpty,
  object,
  optSet,
  optString,
  optStringMap,
  optStrings,
} from "./_check.ts";
import { parseDigest } from "./digest.ts";
import type { Digest } from "./digest.ts";

/** The execution parameters of an image (`config` in the image config). */
export interface ContainerConfig {
  /** `user`, `uid`, `user:group` or `uid:gid`. */
  User?: string;
  /** Ports to expose: `"80/tcp": {}`. */
  ExposedPorts?: Record<string, object>;
  /** `NAME=value` entries. */
  Env?: string[];
  /** The program, in exec form. */
  Entrypoint?: string[];
  /** Default arguments (or the program, without an entrypoint). */
  Cmd?: string[];
  /** Paths for volumes. */
  Volumes?: Record<string, object>;
  /** The working directory. */
  WorkingDir?: string;
  /** Arbitrary metadata. */
  Labels?: Record<string, string>;
  /** The signal to stop the container with. */
  StopSignal?: string;
  /** Docker's shell for shell-form instructions. */
  Shell?: string[];
}

/** One entry of the build history. */
export interface History {
  /** RFC 3339 time. */
  created?: string;
  /** Who made it. */
  author?: string;
  /** The instruction that made it. */
  "created_by"?: string;
  /** A comment. */
  comment?: string;
  /** True when the step made no layer. */
  "empty_layer"?: boolean;
}

/** The image config document (`application/vnd.oci.image.config.v1+json`). */
export interface ImageConfig {
  /** RFC 3339 creation time. */
  created?: string;
  /** Who made it. */
  author?: string;
  /** CPU architecture. */
  architecture: string;
  /** Operating system. */
  os: string;
  /** OS version. */
  "os.version"?: string;
  /** CPU variant. */
  variant?: string;
  /** What to run. */
  config?: ContainerConfig;
  /** The uncompressed layer digests, base first. */
  rootfs: { type: "layers"; "diff_ids": Digest[] };
  /** Build history, one entry per step. */
  history?: History[];
}

/**
 * Parses and checks an image config.
 *
 * @param data The config's bytes, text or parsed JSON.
 * @returns The config.
 * @throws {ValidationError} Naming the bad field, e.g. `rootfs.diff_ids[0]: expected sha256:<64 hex>`.
 *
 * @example Parse a config
 * ```ts
 * import { parseImageConfig } from "@tsk/image";
 * const c = parseImageConfig({
 *   architecture: "amd64",
 *   os: "linux",
 *   rootfs: { type: "layers", diff_ids: [] },
 * });
 * console.log(c.os); // "linux"
 * ```
 */
export function parseImageConfig(data: Uint8Array | string | unknown): ImageConfig {
  const o = object(json(data, "config"), "config");
  nonEmpty(o.architecture, "architecture");
  nonEmpty(o.os, "os");
  optString(o.created, "created");
  optString(o.author, "author");
  optString(o.variant, "variant");
  const rootfs = object(o.rootfs, "rootfs");
  if (rootfs.type !== "layers") {
    throw new ValidationError(
      "rootfs.type",
      `expected "layers", got ${JSON.stringify(rootfs.type)}`,
    );
  }
  array(rootfs.diff_ids, "rootfs.diff_ids").forEach((d, i) =>
    parseDigest(d, `rootfs.diff_ids[${i}]`)
  );
  if (o.config !== undefined && o.config !== null) {
    const c = object(o.config, "config.config");
    optString(c.User, "config.User");
    optSet(c.ExposedPorts, "config.ExposedPorts");
    optStrings(c.Env, "config.Env");
    optStrings(c.Entrypoint, "config.Entrypoint");
    optStrings(c.Cmd, "config.Cmd");
    optSet(c.Volumes, "config.Volumes");
    optString(c.WorkingDir, "config.WorkingDir");
    optStringMap(c.Labels, "config.Labels");
    optString(c.StopSignal, "config.StopSignal");
    (c.Env as string[] | undefined)?.forEach((e, i) => {
      if (!e.includes("=")) {
        throw new ValidationError(
          `config.Env[${i}]`,
          `expected NAME=value, got ${JSON.stringify(e)}`,
        );
      }
    });
  }
  if (o.history !== undefined && o.history !== null) {
    array(o.history, "history").forEach((h, i) => object(h, `history[${i}]`));
  }
  return o as unknown as ImageConfig;
}
